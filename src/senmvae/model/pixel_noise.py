"""Pixel noise: a learned, content-dependent observation noise on the noisy decoder's output.

Not in the paper, where p(y | z, zn) has a fixed variance (the objective is a plain MSE) and
only the GAN and perceptual terms of a 300k-step GPU run push the decoder to draw noise
texture through zn. On a short CPU budget zn collapses on weak real noise (docs/training.md),
while the noise of real camera pipelines is white-ish and placed by the content: its local
variance follows texture and brightness. This head gives p(y | z, zn) a per-pixel standard
deviation sigma(x, level) = level * exp(f(x, level)), learned by the Gaussian likelihood of
the real noise y - x with variance sigma^2 plus the square of what zn adds (so that the two
together carry the real noise's variance), so the level sets how much noise there is and the
head where it goes.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from senmvae.model.blocks import append_level
from senmvae.model.config import ModelConfig
from senmvae.model.distributions import DiagonalGaussian

LEVEL_FLOOR = 1e-4  # the log of the level is taken; a level of 0 means "no noise" anyway


class PixelNoiseHead(nn.Module):
    """sigma(x, level): ``layers`` 3x3 convolutions on the clean image and the level channel."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        spec = cfg.pixel_noise
        width = spec.channels
        layers: list[nn.Module] = []
        prev = cfg.in_channels + 1
        for _ in range(spec.layers - 1):
            layers += [nn.Conv2d(prev, width, 3, padding=1), nn.ReLU(True)]
            prev = width
        last = nn.Conv2d(prev, cfg.in_channels, 3, padding=1)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)  # starts at sigma = level everywhere
        self.net = nn.Sequential(*layers, last)
        self.level_scale = cfg.level_scale

    def forward(self, clean: torch.Tensor, level: torch.Tensor) -> DiagonalGaussian:
        level = level.to(clean.dtype).view(-1)
        relative = self.net(append_level(clean, level * self.level_scale))
        log_level = level.clamp_min(LEVEL_FLOOR).log().view(-1, 1, 1, 1)
        return DiagonalGaussian(torch.zeros_like(relative), relative + log_level)


def pixel_noise_loss(dist: DiagonalGaussian, residual: torch.Tensor) -> torch.Tensor:
    """Per-sample negative log likelihood of ``residual`` (mean over elements, nats)."""
    return -(dist.log_prob(residual) + 0.5 * math.log(2 * math.pi)).flatten(1).mean(1)
