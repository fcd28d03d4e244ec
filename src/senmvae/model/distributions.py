"""Diagonal Gaussian parameterised by mean and log standard deviation."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from senmvae.errors import UserError

Generator = torch.Generator | Sequence[torch.Generator] | None


def row_generators(generator: Generator, rows: int) -> list[torch.Generator | None]:
    """One generator per batch row: ``generator`` repeated when it is one (or None), else checked
    to hold one per row."""
    if generator is None or isinstance(generator, torch.Generator):
        return [generator] * rows
    generators = list(generator)
    if len(generators) != rows:
        raise UserError(
            f"got {len(generators)} generators for {rows} image{'s' if rows > 1 else ''}; pass one generator, or "
            "one per image of the batch (a numpy (H, W, 3) array, a (3, H, W) tensor or a PIL image is one image)"
        )
    return generators


def standard_normal(shape: torch.Size, like: torch.Tensor, generator: Generator) -> torch.Tensor:
    """Draw N(0, 1) noise of ``shape``.

    ``generator`` may be one generator for the whole batch, or one per batch row: then
    row ``i`` is drawn from ``generator[i]`` alone, so a sample never depends on which other
    samples share its batch.
    """
    if generator is None or isinstance(generator, torch.Generator):
        return torch.randn(shape, generator=generator, dtype=like.dtype, device=like.device)
    if len(generator) != shape[0]:
        raise ValueError(f"got {len(generator)} generators for a batch of {shape[0]}")
    rows = [torch.randn(shape[1:], generator=g, dtype=like.dtype, device=g.device).to(like.device) for g in generator]
    return torch.stack(rows)


class DiagonalGaussian:
    """N(mean, exp(log_sigma)^2), elementwise. ``log_sigma`` is a log standard deviation, or a
    function that computes it on first use (so that drawing at temperature 0 never runs it)."""

    def __init__(self, mean: torch.Tensor, log_sigma: torch.Tensor | Callable[[], torch.Tensor]):
        self.mean = mean
        self._log_sigma = log_sigma

    @property
    def log_sigma(self) -> torch.Tensor:
        if callable(self._log_sigma):
            self._log_sigma = self._log_sigma()
        return self._log_sigma

    @property
    def mode(self) -> torch.Tensor:
        return self.mean

    @property
    def sigma(self) -> torch.Tensor:
        return self.log_sigma.exp()

    def sample(
        self, generator: Generator = None, temperature: float = 1.0, eps: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Reparameterised sample; ``temperature`` scales sigma (0 returns the mean). ``eps``:
        the standard normal draw to use, instead of drawing one from ``generator``."""
        if temperature == 0:
            return self.mean
        if eps is None:
            eps = standard_normal(self.mean.shape, self.mean, generator)
        return torch.addcmul(self.mean, self.sigma, eps, value=temperature)

    def kl(self, other: DiagonalGaussian) -> torch.Tensor:
        """Elementwise KL(self || other), closed form."""
        var_ratio = torch.exp(2 * (self.log_sigma - other.log_sigma))
        mean_term = (self.mean - other.mean) ** 2 * torch.exp(-2 * other.log_sigma)
        return other.log_sigma - self.log_sigma + 0.5 * (var_ratio + mean_term) - 0.5

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        z = (value - self.mean) * torch.exp(-self.log_sigma)
        return -0.5 * z**2 - self.log_sigma - 0.5 * math.log(2 * math.pi)

    def index(self, rows: torch.Tensor | slice) -> DiagonalGaussian:
        return DiagonalGaussian(self.mean[rows], self.log_sigma[rows])
