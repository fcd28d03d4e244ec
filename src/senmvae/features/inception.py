"""The Inception-v3 network of the FID protocol (Heusel et al. 2017), pool3 features (2048-d).

This is the TensorFlow graph ``inception-2015-12-05`` as ported by pytorch-fid, which differs
from torchvision's Inception-v3: average pools in the A, C and first E blocks exclude the
padding from their count, and the last E block pools its side branch with a max pool. Images in
[0, 1] are resized to 299x299 (bilinear) and scaled to [-1, 1]. The weights are not bundled:
pass the user's ``pt_inception-2015-12-05-*.pth`` file, whose keys (``Conv2d_1a_3x3.conv.weight``,
``Mixed_5b.branch1x1.bn.running_mean``, ...) the modules below reproduce.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from senmvae.features.weights import load_matching, read_state_dict

FID_INPUT_SIZE = 299


class BasicConv2d(nn.Module):
    def __init__(self, channels_in: int, channels_out: int, kernel_size, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(channels_in, channels_out, kernel_size, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(channels_out, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def _avg_pool_excluding_padding(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class InceptionA(nn.Module):
    def __init__(self, channels_in: int, pool_features: int):
        super().__init__()
        self.branch1x1 = BasicConv2d(channels_in, 64, 1)
        self.branch5x5_1 = BasicConv2d(channels_in, 48, 1)
        self.branch5x5_2 = BasicConv2d(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(channels_in, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, padding=1)
        self.branch_pool = BasicConv2d(channels_in, pool_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(
            [
                self.branch1x1(x),
                self.branch5x5_2(self.branch5x5_1(x)),
                self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                self.branch_pool(_avg_pool_excluding_padding(x)),
            ],
            1,
        )


class InceptionB(nn.Module):
    def __init__(self, channels_in: int):
        super().__init__()
        self.branch3x3 = BasicConv2d(channels_in, 384, 3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(channels_in, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(
            [
                self.branch3x3(x),
                self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                F.max_pool2d(x, 3, stride=2),
            ],
            1,
        )


class InceptionC(nn.Module):
    def __init__(self, channels_in: int, channels_7x7: int):
        super().__init__()
        c7 = channels_7x7
        self.branch1x1 = BasicConv2d(channels_in, 192, 1)
        self.branch7x7_1 = BasicConv2d(channels_in, c7, 1)
        self.branch7x7_2 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(channels_in, c7, 1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(channels_in, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d7 = x
        for layer in (
            self.branch7x7dbl_1,
            self.branch7x7dbl_2,
            self.branch7x7dbl_3,
            self.branch7x7dbl_4,
            self.branch7x7dbl_5,
        ):
            d7 = layer(d7)
        return torch.cat([self.branch1x1(x), b7, d7, self.branch_pool(_avg_pool_excluding_padding(x))], 1)


class InceptionD(nn.Module):
    def __init__(self, channels_in: int):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(channels_in, 192, 1)
        self.branch3x3_2 = BasicConv2d(192, 320, 3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(channels_in, 192, 1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([b3, b7, F.max_pool2d(x, 3, stride=2)], 1)


class InceptionE(nn.Module):
    """The last two blocks; ``max_pool_branch`` marks the second, whose side branch max-pools."""

    def __init__(self, channels_in: int, max_pool_branch: bool):
        super().__init__()
        self.branch1x1 = BasicConv2d(channels_in, 320, 1)
        self.branch3x3_1 = BasicConv2d(channels_in, 384, 1)
        self.branch3x3_2a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(channels_in, 448, 1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(channels_in, 192, 1)
        self.max_pool_branch = max_pool_branch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        d3 = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        d3 = torch.cat([self.branch3x3dbl_3a(d3), self.branch3x3dbl_3b(d3)], 1)
        pooled = F.max_pool2d(x, 3, stride=1, padding=1) if self.max_pool_branch else _avg_pool_excluding_padding(x)
        return torch.cat([self.branch1x1(x), b3, d3, self.branch_pool(pooled)], 1)


class FIDInceptionV3(nn.Module):
    """Maps images (B, 3, H, W) in [0, 1] to pool3 features (B, 2048)."""

    def __init__(self):
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, 3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, 1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, 3)
        self.Mixed_5b = InceptionA(192, pool_features=32)
        self.Mixed_5c = InceptionA(256, pool_features=64)
        self.Mixed_5d = InceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, channels_7x7=128)
        self.Mixed_6c = InceptionC(768, channels_7x7=160)
        self.Mixed_6d = InceptionC(768, channels_7x7=160)
        self.Mixed_6e = InceptionC(768, channels_7x7=192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280, max_pool_branch=False)
        self.Mixed_7c = InceptionE(2048, max_pool_branch=True)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(images, size=(FID_INPUT_SIZE, FID_INPUT_SIZE), mode="bilinear", align_corners=False)
        x = 2.0 * x - 1.0
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, 3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, 3, stride=2)
        for block in (
            self.Mixed_5b,
            self.Mixed_5c,
            self.Mixed_5d,
            self.Mixed_6a,
            self.Mixed_6b,
            self.Mixed_6c,
            self.Mixed_6d,
            self.Mixed_6e,
        ):
            x = block(x)
        x = self.Mixed_7c(self.Mixed_7b(self.Mixed_7a(x)))
        return x.mean(dim=(2, 3))


def load_fid_inception(weights_path: str | Path) -> FIDInceptionV3:
    """The FID Inception network with the user's ``pt_inception-2015-12-05-*.pth`` weights, eval mode, frozen.

    The file's classifier (``fc``, 1008 classes) is not needed for pool3 features and is ignored.
    """
    net = FIDInceptionV3()
    load_matching(
        net,
        read_state_dict(weights_path, "FID Inception-v3 (pt_inception-2015-12-05)"),
        weights_path,
        "FID Inception-v3",
    )
    net.eval()
    net.requires_grad_(False)
    return net
