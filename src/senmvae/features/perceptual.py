"""Perceptual distances for the training loss and for evaluation.

* :class:`DeepFeatureDistance` -- an LPIPS-like distance on EfficientNet-Lite0 features, whose
  ImageNet weights install with the package index: no weight files to fetch. Used as the
  perceptual training loss when the user has no LPIPS weights.
* :class:`LPIPS` -- LPIPS v0.1 with the AlexNet backbone (Zhang et al. CVPR 2018), built here and
  loaded from two files the user supplies: torchvision's AlexNet weights (``features.*`` keys)
  and the LPIPS linear layers (the ``lpips`` package's ``weights/v0.1/alex.pth``, keys
  ``lin0.model.1.weight`` ... ``lin4.model.1.weight``). The official SeNM-VAE training uses it.

Both take two batches (B, 3, H, W) in [0, 1] and return (B,) distances, differentiable with
respect to the images; their own weights are frozen and stay in eval mode.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from senmvae.errors import UserError
from senmvae.features.efficientnet_lite0 import EfficientNetLite0, load_efficientnet_lite0
from senmvae.features.weights import load_matching, read_state_dict

UNIT_NORM_EPS = 1e-10


def unit_normalize(features: torch.Tensor) -> torch.Tensor:
    """Scale each spatial position's feature vector to unit length (over channels)."""
    return features / (features.pow(2).sum(dim=1, keepdim=True).sqrt() + UNIT_NORM_EPS)


class FrozenNetwork(nn.Module):
    """A pretrained network that never trains: ``train()`` leaves it in eval mode."""

    def train(self, mode: bool = True) -> FrozenNetwork:
        return super().train(False)


class DeepFeatureDistance(FrozenNetwork):
    """Mean over ``stages`` of the spatially averaged squared difference of unit-normalised features.

    With EfficientNet-Lite0 stages 1-4 (1/2 to 1/16 resolution) each term lies in [0, 4]; 0 for
    identical images. Unlike LPIPS there are no learned per-channel weights.
    """

    DEFAULT_STAGES = ("stage1", "stage2", "stage3", "stage4")

    def __init__(self, stages: tuple[str, ...] = DEFAULT_STAGES, backbone: EfficientNetLite0 | None = None):
        super().__init__()
        self.backbone = backbone if backbone is not None else load_efficientnet_lite0()
        self.backbone.requires_grad_(False)
        self.stages = tuple(stages)
        self.eval()

    def forward(self, images: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        both = self.backbone.features(torch.cat([images, reference]), self.stages)
        total = images.new_zeros(images.shape[0])
        for name in self.stages:
            f_images, f_reference = both[name].chunk(2)
            total = total + (unit_normalize(f_images) - unit_normalize(f_reference)).pow(2).sum(dim=1).mean(dim=(1, 2))
        return total / len(self.stages)


# ------------------------------------------------------------------ LPIPS (AlexNet)

ALEXNET_LAYERS = (  # (index in torchvision's alexnet.features, in, out, kernel, stride, padding, max-pool before)
    (0, 3, 64, 11, 4, 2, False),
    (3, 64, 192, 5, 1, 2, True),
    (6, 192, 384, 3, 1, 1, True),
    (8, 384, 256, 3, 1, 1, False),
    (10, 256, 256, 3, 1, 1, False),
)
LPIPS_SHIFT = (-0.030, -0.088, -0.188)
LPIPS_SCALE = (0.458, 0.448, 0.450)


class AlexNetFeatures(nn.Module):
    """The convolutional part of torchvision's AlexNet, returning the five ReLU outputs.

    Submodule names follow ``torchvision.models.alexnet().features`` so its weight file loads
    directly (its ``classifier.*`` tensors are ignored).
    """

    def __init__(self):
        super().__init__()
        self.features = nn.ModuleDict(
            {str(i): nn.Conv2d(cin, cout, k, stride=s, padding=p) for i, cin, cout, k, s, p, _ in ALEXNET_LAYERS}
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outputs = []
        for index, *_, pool_before in ALEXNET_LAYERS:
            if pool_before:
                x = F.max_pool2d(x, 3, stride=2)
            x = F.relu(self.features[str(index)](x))
            outputs.append(x)
        return outputs


class LPIPS(FrozenNetwork):
    """LPIPS v0.1, AlexNet variant: lower is more similar, 0 for identical images."""

    CHANNELS = tuple(layer[2] for layer in ALEXNET_LAYERS)

    def __init__(self):
        super().__init__()
        self.net = AlexNetFeatures()
        self.lins = nn.ParameterList([nn.Parameter(torch.zeros(1, c, 1, 1)) for c in self.CHANNELS])
        self.register_buffer("shift", torch.tensor(LPIPS_SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(LPIPS_SCALE).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    @classmethod
    def from_files(cls, backbone_path: str | Path, linear_path: str | Path) -> LPIPS:
        """Load torchvision's AlexNet weights and the LPIPS ``alex.pth`` linear weights."""
        lpips = cls()
        load_matching(
            lpips.net, read_state_dict(backbone_path, "torchvision AlexNet"), backbone_path, "torchvision AlexNet"
        )
        linear = read_state_dict(linear_path, "LPIPS linear-layer (alex.pth)")
        renamed = {
            str(i): linear[f"lin{i}.model.1.weight"]
            for i in range(len(cls.CHANNELS))
            if f"lin{i}.model.1.weight" in linear
        }
        load_matching(lpips.lins, renamed, linear_path, "LPIPS AlexNet linear-layer (lin0..lin4.model.1.weight)")
        return lpips

    def forward(self, images: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        both = (2.0 * torch.cat([images, reference]) - 1.0 - self.shift) / self.scale
        total = images.new_zeros(images.shape[0])
        for feats, weight in zip(self.net(both), self.lins):
            f_images, f_reference = feats.chunk(2)
            diff = (unit_normalize(f_images) - unit_normalize(f_reference)).pow(2)
            total = total + F.conv2d(diff, weight).mean(dim=(1, 2, 3))
        return total


def build_perceptual_loss(
    kind: str, lpips_backbone_path: str | Path | None = None, lpips_linear_path: str | Path | None = None
) -> nn.Module | None:
    """The perceptual training loss: "effnet" (:class:`DeepFeatureDistance`), "lpips" (:class:`LPIPS`) or "none"."""
    if kind == "none":
        return None
    if kind == "effnet":
        return DeepFeatureDistance()
    if kind == "lpips":
        if lpips_backbone_path is None or lpips_linear_path is None:
            raise UserError(
                "perceptual loss 'lpips' needs two weight files: lpips_backbone_path (torchvision AlexNet weights, "
                "e.g. alexnet-owt-7be5be79.pth) and lpips_linear_path (the lpips package's weights/v0.1/alex.pth); "
                "set both, or choose the perceptual loss 'effnet', which needs no files"
            )
        return LPIPS.from_files(lpips_backbone_path, lpips_linear_path)
    raise UserError(f"unknown perceptual loss {kind!r}; choose 'effnet', 'lpips' or 'none'")
