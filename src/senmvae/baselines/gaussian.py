"""Gaussian baselines: white noise of one std, and signal-dependent (heteroscedastic) noise."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from senmvae.baselines.base import BaselineNoiseModel, check_batch, per_image
from senmvae.baselines.pairs import PairLike, load_pairs
from senmvae.errors import UserError
from senmvae.model.distributions import Generator, standard_normal


class AWGN(BaselineNoiseModel):
    """Additive white Gaussian noise: ``noisy = clean + std * N(0, 1)``, i.i.d. per pixel and channel.

    ``fit`` sets ``std`` to the root mean square of ``noisy - clean`` over every pixel of every
    pair (the maximum-likelihood std of zero-mean Gaussian noise). ``level`` in ``sample``
    replaces the fitted std; ``temperature`` multiplies it. With ``clip`` the result is
    clipped to [0, 1] like a real image.
    """

    kind = "awgn"
    name = "awgn"

    def __init__(self, std: float, clip: bool = True):
        if not std >= 0:
            raise UserError(f"AWGN std must be >= 0, got {std}")
        self.std = float(std)
        self.clip = bool(clip)

    @classmethod
    def fit(cls, pairs: Sequence[PairLike], clip: bool = True) -> AWGN:
        squares = 0.0
        count = 0
        for clean, noisy in load_pairs(pairs):
            residual = noisy.astype(np.float64) - clean
            squares += float(np.square(residual).sum())
            count += residual.size
        return cls(std=float(np.sqrt(squares / count)), clip=clip)

    def parameters(self) -> dict[str, Any]:
        return {"std": self.std, "clip": self.clip}

    def sample(
        self,
        clean: torch.Tensor,
        level: torch.Tensor | float | None = None,
        temperature: float = 1.0,
        generator: Generator = None,
    ) -> torch.Tensor:
        check_batch(clean)
        std = per_image(self.std if level is None else level, clean.shape[0], clean)
        noisy = clean + temperature * std * standard_normal(clean.shape, clean, generator)
        return noisy.clamp(0.0, 1.0) if self.clip else noisy


class HeteroscedasticGaussian(BaselineNoiseModel):
    """Signal-dependent Gaussian noise, per channel c: ``var = a[c] * clean + b[c]``.

    The usual shot (``a``) plus read (``b``) approximation of raw sensor noise, applied here
    to whatever colour space the pairs are in. ``fit`` regresses the squared residual
    ``(noisy - clean)**2`` on ``clean`` by least squares, per channel, over every pixel of
    every pair; since ``E[(noisy - clean)**2 | clean] = a * clean + b`` this is unbiased.
    Negative estimates are not variances: the fit is constrained to ``a, b >= 0`` (the
    unconstrained solution when it is non-negative, else the better of the two boundary fits).

    ``level`` rescales the noise of each image so that its overall std, the square root of
    the mean of ``a[c] * clean + b[c]`` over that image's pixels and channels, equals the
    level; the shape of the signal dependence is kept. ``temperature`` multiplies the std.
    """

    kind = "heteroscedastic"
    name = "heteroscedastic"

    def __init__(self, a: Sequence[float], b: Sequence[float], clip: bool = True):
        a = [float(v) for v in a]
        b = [float(v) for v in b]
        if len(a) != 3 or len(b) != 3:
            raise UserError(f"heteroscedastic noise needs 3 values of a and of b (one per channel), got {a} and {b}")
        if min(a + b) < 0:
            raise UserError(f"heteroscedastic a and b must be >= 0, got a={a}, b={b}")
        self.a = a
        self.b = b
        self.clip = bool(clip)

    @classmethod
    def fit(cls, pairs: Sequence[PairLike], clip: bool = True) -> HeteroscedasticGaussian:
        # Normal equations per channel, accumulated pair by pair: sums of 1, x, x^2, r, x*r with r = residual^2.
        sums = np.zeros((5, 3))
        for clean, noisy in load_pairs(pairs):
            x = clean.reshape(-1, 3).astype(np.float64)
            r = np.square(noisy.reshape(-1, 3).astype(np.float64) - x)
            sums += np.stack([np.full(3, len(x)), x.sum(0), (x * x).sum(0), r.sum(0), (x * r).sum(0)])
        a, b = zip(*(_nonnegative_line(*sums[:, c]) for c in range(3)))
        return cls(a=a, b=b, clip=clip)

    def parameters(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "clip": self.clip}

    def variance(self, clean: torch.Tensor) -> torch.Tensor:
        a = torch.tensor(self.a, dtype=clean.dtype, device=clean.device).view(1, 3, 1, 1)
        b = torch.tensor(self.b, dtype=clean.dtype, device=clean.device).view(1, 3, 1, 1)
        return a * clean.clamp(0.0, 1.0) + b

    def noise_std(self, clean: torch.Tensor, level: torch.Tensor | float | None = None) -> torch.Tensor:
        """Per-pixel noise std ``sqrt(a * clean + b)``, rescaled per image so that the square root of
        its mean square is ``level`` when one is given."""
        variance = self.variance(clean)
        std = variance.sqrt()
        if level is not None:
            overall = variance.mean(dim=(1, 2, 3), keepdim=True).sqrt()
            std = std * per_image(level, clean.shape[0], clean) / overall.clamp_min(1e-12)
        return std

    def sample(
        self,
        clean: torch.Tensor,
        level: torch.Tensor | float | None = None,
        temperature: float = 1.0,
        generator: Generator = None,
    ) -> torch.Tensor:
        check_batch(clean)
        std = self.noise_std(clean, level)
        noisy = clean + temperature * std * standard_normal(clean.shape, clean, generator)
        return noisy.clamp(0.0, 1.0) if self.clip else noisy


def _nonnegative_line(n: float, sx: float, sxx: float, sr: float, sxr: float) -> tuple[float, float]:
    """Least-squares ``r ~ a * x + b`` from the sums, with ``a, b >= 0``."""

    def loss(a: float, b: float) -> float:
        # sum (r - a x - b)^2 without the constant sum r^2, which every candidate shares
        return a * a * sxx + b * b * n + 2 * a * b * sx - 2 * a * sxr - 2 * b * sr

    det = n * sxx - sx * sx
    if det > 0:
        a = (n * sxr - sx * sr) / det
        b = (sr - a * sx) / n
        if a >= 0 and b >= 0:
            return a, b
    candidates = [(0.0, sr / n)]
    if sxx > 0:
        candidates.append((max(sxr, 0.0) / sxx, 0.0))
    return min(candidates, key=lambda ab: loss(*ab))
