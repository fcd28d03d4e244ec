"""Real-ESRGAN's second-order degradation as a model of real low-resolution images.

The AIM 2019 experiment (docs/paper.md) learns the map from a clean LR image (the HR image
downscaled 4x) to the challenge's degraded LR input. The pipeline degrades an HR image, which
that data does not hold, so this row feeds it the clean LR image upscaled bicubically by the
scale: a stand-in for the HR image with no detail above the LR image's band.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from senmvae.baselines.base import check_batch
from senmvae.downstream.sr.second_order import SecondOrderConfig, SecondOrderDegradation
from senmvae.generate.base import NoiseSource
from senmvae.model.distributions import Generator, row_generators


class SecondOrderLR(NoiseSource):
    """Clean LR (B, 3, H, W) -> degraded LR of the same size, one pipeline draw per image
    (``generator``: one, or one per image). The pipeline draws its own noise level; ``level``
    and ``temperature`` are ignored."""

    name = "second_order"

    def __init__(self, scale: int = 4, config: SecondOrderConfig | None = None):
        self.scale = int(scale)
        self.pipeline = SecondOrderDegradation(config, self.scale)

    def sample(
        self,
        clean: torch.Tensor,
        level: torch.Tensor | float | None = None,
        temperature: float = 1.0,
        generator: Generator = None,
    ) -> torch.Tensor:
        check_batch(clean)
        generators = row_generators(generator, len(clean))
        stand_in = F.interpolate(clean.float(), scale_factor=self.scale, mode="bicubic", align_corners=False)
        stand_in = stand_in.clamp(0.0, 1.0)
        return torch.cat([self.pipeline(stand_in[i : i + 1], g) for i, g in enumerate(generators)]).to(clean)
