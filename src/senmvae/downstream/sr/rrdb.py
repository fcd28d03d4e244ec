"""A compact ESRGAN generator (Wang et al., ECCV Workshops 2018): residual-in-residual dense blocks.

Every part is ESRGAN's (``basicsr.archs.rrdbnet_arch.RRDBNet``): a first conv, ``blocks``
RRDBs (each three residual dense blocks of five convs with ``growth`` channels, residuals
scaled by 0.2, convs initialised at 0.1 times He), a body conv with a skip around the trunk,
then the upsampler and two convs at the output resolution. Only the upsampler differs:
``log2(scale)`` stages of conv to 4x the width and a 2x pixel shuffle, where ESRGAN uses
nearest-neighbour interpolation and a conv; and optionally (``interpolation_skip``, the
default) the output is a correction added to the bicubic interpolation of the input. The sizes
(ESRGAN: 64 features, growth 32, 23 blocks) are the config's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from senmvae.config import Config, ConfigError

RESIDUAL_SCALE = 0.2
INIT_SCALE = 0.1


@dataclass
class RRDBConfig(Config):
    features: int = 32
    growth: int = 16
    blocks: int = 2
    scale: int = 4
    # Add the bicubic interpolation of the input to the output (the last conv starts at zero, so the untrained
    # network is that interpolation): not in ESRGAN, which trains for 10^5 steps and more; after 200 CPU steps
    # it scored 1.0 dB PSNR-Y higher on the simulated SR set (docs/sr.md).
    interpolation_skip: bool = True

    def __post_init__(self) -> None:
        for name in ("features", "growth", "blocks"):
            if getattr(self, name) < 1:
                raise ConfigError(f"rrdb.{name} must be positive, got {getattr(self, name)}")
        if self.scale < 2 or self.scale & (self.scale - 1):
            raise ConfigError(f"rrdb.scale must be a power of 2 (2, 4, 8), got {self.scale}")


def _conv(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=1)


def _scaled_he_init(convs: list[nn.Conv2d], scale: float) -> None:
    for conv in convs:
        nn.init.kaiming_normal_(conv.weight)
        conv.weight.data.mul_(scale)
        nn.init.zeros_(conv.bias)


class ResidualDenseBlock(nn.Module):
    def __init__(self, features: int, growth: int):
        super().__init__()
        self.convs = nn.ModuleList([_conv(features + i * growth, growth) for i in range(4)])
        self.fuse = _conv(features + 4 * growth, features)
        self.act = nn.LeakyReLU(0.2, inplace=True)
        _scaled_he_init([*self.convs, self.fuse], INIT_SCALE)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs = [x]
        for conv in self.convs:
            outputs.append(self.act(conv(torch.cat(outputs, 1))))
        return x + RESIDUAL_SCALE * self.fuse(torch.cat(outputs, 1))


class RRDB(nn.Module):
    def __init__(self, features: int, growth: int):
        super().__init__()
        self.dense = nn.Sequential(*(ResidualDenseBlock(features, growth) for _ in range(3)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + RESIDUAL_SCALE * self.dense(x)


class RRDBNet(nn.Module):
    """Maps a (B, 3, h, w) low-resolution batch to (B, 3, scale h, scale w)."""

    def __init__(self, config: RRDBConfig, channels: int = 3):
        super().__init__()
        self.config = config
        f = config.features
        self.head = _conv(channels, f)
        self.body = nn.Sequential(*(RRDB(f, config.growth) for _ in range(config.blocks)))
        self.body_conv = _conv(f, f)
        stages: list[nn.Module] = []
        for _ in range(int(math.log2(config.scale))):
            stages += [_conv(f, 4 * f), nn.PixelShuffle(2), nn.LeakyReLU(0.2, inplace=True)]
        self.upsample = nn.Sequential(*stages)
        self.tail = nn.Sequential(_conv(f, f), nn.LeakyReLU(0.2, inplace=True), _conv(f, channels))
        if config.interpolation_skip:  # start as bicubic interpolation
            nn.init.zeros_(self.tail[-1].weight)
            nn.init.zeros_(self.tail[-1].bias)

    @property
    def scale(self) -> int:
        return self.config.scale

    def forward(self, low: torch.Tensor) -> torch.Tensor:
        features = self.head(low)
        features = features + self.body_conv(self.body(features))
        out = self.tail(self.upsample(features))
        if self.config.interpolation_skip:
            out = out + F.interpolate(low, scale_factor=self.scale, mode="bicubic", align_corners=False)
        return out
