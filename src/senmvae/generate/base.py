"""The interface every noise model shares: SeNM-VAE, the baselines, and the real-noise oracle."""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch

from senmvae.model.distributions import Generator


class NoiseSource(ABC):
    """Turns clean images into noisy ones.

    ``sample(clean, level, temperature, generator)`` takes a (B, C, H, W) float batch in
    [0, 1] and returns a noisy batch of the same shape (not clipped unless the model says
    so). ``level`` is the target noise std on the [0, 1] scale (a float or one per image);
    models that cannot be conditioned ignore it. ``generator`` is one ``torch.Generator`` or
    one per image.
    """

    name: str = "noise"

    @abstractmethod
    def sample(
        self,
        clean: torch.Tensor,
        level: torch.Tensor | float | None = None,
        temperature: float = 1.0,
        generator: Generator = None,
    ) -> torch.Tensor: ...
