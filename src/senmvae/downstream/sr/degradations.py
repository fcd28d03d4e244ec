"""Degradation models for super-resolution pairs: how each makes the low-resolution partner of an HR image.

Every model maps a batch of HR crops (B, 3, s h, s w) and their bicubic downsampling B(HR)
(B, 3, h, w) to the LR images (B, 3, h, w), rounded to 8-bit values like a real LR file:

* :class:`Bicubic`: B(HR) itself (the classic, degradation-free setting);
* :class:`NoiseOnBicubic`: a noise model applied to B(HR), i.e. y = B(x) + n' as the paper
  models real LR images: SeNM-VAE (:class:`~senmvae.generate.NoiseModel`, whose level is the
  std of LR - B(HR)) or a Gaussian (:class:`~senmvae.baselines.AWGN` fitted on the paired LR images);
* :class:`SecondOrder`: Real-ESRGAN's randomized pipeline on the HR image (it ignores B(HR)).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch

from senmvae.downstream.sr.second_order import SecondOrderConfig, SecondOrderDegradation
from senmvae.generate.base import NoiseSource
from senmvae.metrics.images import quantize_8bit


class Degradation(ABC):
    @abstractmethod
    def __call__(self, hr: torch.Tensor, bicubic: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """The LR images of ``hr`` (whose bicubic downsampling is ``bicubic``), 8-bit values in [0, 1]."""


class Bicubic(Degradation):
    def __call__(self, hr: torch.Tensor, bicubic: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        return quantize_8bit(bicubic)


class NoiseOnBicubic(Degradation):
    """``noise_source.sample(B(HR))``: the noise model draws its own level unless ``level`` is given."""

    def __init__(self, noise_source: NoiseSource, level: float | None = None):
        self.noise_source = noise_source
        self.level = level

    @torch.no_grad()
    def __call__(self, hr: torch.Tensor, bicubic: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        return quantize_8bit(self.noise_source.sample(bicubic, level=self.level, generator=generator))


class SecondOrder(Degradation):
    def __init__(self, config: SecondOrderConfig | None = None, scale: int = 4):
        self.pipeline = SecondOrderDegradation(config, scale)

    def __call__(self, hr: torch.Tensor, bicubic: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        return self.pipeline(hr, generator)
