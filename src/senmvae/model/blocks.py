"""Building blocks of the SeNM-VAE network: residual dense blocks, resamplers, Gaussian heads."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from senmvae.model.distributions import DiagonalGaussian


class ResidualDenseBlock(nn.Module):
    """Five 3x3 convolutions with dense connections (RDB, Zhang et al. 2018).

    Conv ``k`` sees the input and every earlier output; LeakyReLU(0.2) follows the first
    four; the block returns ``input + 0.2 * conv5``. Weights start at 0.1 x Kaiming so the
    block starts close to the identity.
    """

    def __init__(self, channels: int, growth: int):
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv2d(channels + k * growth, growth if k < 4 else channels, 3, padding=1) for k in range(5)
        )
        for conv in self.convs:
            nn.init.kaiming_normal_(conv.weight, a=0, mode="fan_in")
            conv.weight.data.mul_(0.1)
            nn.init.zeros_(conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for conv in self.convs[:-1]:
            features.append(F.leaky_relu(conv(torch.cat(features, 1)), 0.2))
        return x + 0.2 * self.convs[-1](torch.cat(features, 1))


class Downsample(nn.Module):
    """Halve the resolution: PixelUnshuffle(2) then a 3x3 conv back to ``channels``."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(4 * channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pixel_unshuffle(x, 2))


class Upsample(nn.Module):
    """Double the resolution: PixelShuffle(2) then a 3x3 conv from ``channels / 4``."""

    def __init__(self, channels: int):
        super().__init__()
        if channels % 4:
            raise ValueError(f"upsampling needs channels divisible by 4, got {channels}")
        self.conv = nn.Conv2d(channels // 4, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pixel_shuffle(x, 2))


class GaussianHead(nn.Module):
    """Maps features to a diagonal Gaussian: two branches (RDB + 1x1 conv) for mean and log sigma.

    The 1x1 convs start with zero weights, so every head starts as N(bias, exp(bias)).
    """

    def __init__(self, in_channels: int, out_channels: int, growth: int):
        super().__init__()
        self.mean = nn.Sequential(ResidualDenseBlock(in_channels, growth), nn.Conv2d(in_channels, out_channels, 1))
        self.log_sigma = nn.Sequential(ResidualDenseBlock(in_channels, growth), nn.Conv2d(in_channels, out_channels, 1))
        nn.init.zeros_(self.mean[1].weight)
        nn.init.zeros_(self.log_sigma[1].weight)

    def forward(self, x: torch.Tensor) -> DiagonalGaussian:
        return DiagonalGaussian(self.mean(x), lambda: self.log_sigma(x))


def append_level(features: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
    """Append the per-sample noise level (shape (B,)) as one constant channel."""
    b, _, h, w = features.shape
    return torch.cat([features, level.to(features.dtype).view(b, 1, 1, 1).expand(b, 1, h, w)], 1)
