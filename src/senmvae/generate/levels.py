"""How the noise level of each synthesized image is chosen.

A level is the std of the noise y - x on the [0, 1] intensity scale, the quantity SeNM-VAE's
degradation latents are conditioned on. A :class:`LevelPolicy` draws one level per image
from that image's own random stream, so the level is as reproducible as the noise.
Policies that need the model (levels predicted from noisy images) are built by
:class:`~senmvae.generate.noise_model.NoiseModel`; this module holds the rest.
"""

from __future__ import annotations

import hashlib
import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from senmvae.errors import UserError
from senmvae.noise_level import noise_level


def _uniform(generator: torch.Generator | None) -> float:
    device = generator.device if generator is not None else "cpu"
    return float(torch.rand((), generator=generator, dtype=torch.float64, device=device))


def _normal(generator: torch.Generator | None) -> float:
    device = generator.device if generator is not None else "cpu"
    return float(torch.randn((), generator=generator, dtype=torch.float64, device=device))


def check_level(value: float, what: str = "noise level") -> float:
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise UserError(f"{what} must be a finite std >= 0, got {value}")
    if value > 1:
        raise UserError(
            f"{what} {value:g} is above 1: levels are noise stds on the [0, 1] intensity scale "
            f"(for 8-bit units divide by 255, e.g. {value / 255:.4f})"
        )
    return value


class LevelPolicy(ABC):
    """Chooses the noise level of one image from that image's generator."""

    @abstractmethod
    def draw(self, generator: torch.Generator | None) -> float: ...

    @abstractmethod
    def describe(self) -> str:
        """A short description, written into manifests and used to detect changed settings."""


@dataclass(frozen=True)
class FixedLevel(LevelPolicy):
    std: float

    def __post_init__(self) -> None:
        check_level(self.std)

    def draw(self, generator: torch.Generator | None) -> float:
        return float(self.std)

    def describe(self) -> str:
        return f"fixed {self.std:.6g}"


@dataclass(frozen=True)
class UniformLevel(LevelPolicy):
    """A level uniform in [low, high]."""

    low: float
    high: float

    def __post_init__(self) -> None:
        check_level(self.low, "lower noise level")
        check_level(self.high, "upper noise level")
        if self.low > self.high:
            raise UserError(f"noise level range {self.low:g}:{self.high:g} is empty; write it as LOW:HIGH")

    def draw(self, generator: torch.Generator | None) -> float:
        return self.low + (self.high - self.low) * _uniform(generator)

    def describe(self) -> str:
        return f"uniform {self.low:.6g}:{self.high:.6g}"


@dataclass(frozen=True)
class ChoiceLevel(LevelPolicy):
    """One of ``values``, each equally likely; ``origin`` says where they came from."""

    values: tuple[float, ...]
    origin: str = "list"

    def __post_init__(self) -> None:
        if not self.values:
            raise UserError(f"no noise levels to choose from ({self.origin})")
        for value in self.values:
            check_level(value)

    def draw(self, generator: torch.Generator | None) -> float:
        device = generator.device if generator is not None else "cpu"
        index = int(torch.randint(len(self.values), (), generator=generator, device=device))
        return float(self.values[index])

    def describe(self) -> str:
        shown = ",".join(f"{v:.6g}" for v in self.values[:8])
        if len(self.values) > 8:
            digest = hashlib.sha256(",".join(repr(v) for v in self.values).encode()).hexdigest()[:16]
            shown += f",... (sha256 {digest})"
        return f"choice of {len(self.values)} ({self.origin}): {shown}"


@dataclass(frozen=True)
class SIDDPrior(LevelPolicy):
    """The noise-level prior of the official SeNM-VAE scripts, fitted to SIDD.

    log10(shot) ~ U(log10 shot_min, log10 shot_max); log10(read) = slope log10(shot) +
    intercept + N(0, read_sigma^2); level = sqrt(shot + read).
    """

    shot_min: float = 0.00068674
    shot_max: float = 0.02194856
    slope: float = 1.85
    intercept: float = 0.30
    read_sigma: float = 0.20

    def draw(self, generator: torch.Generator | None) -> float:
        lo, hi = math.log10(self.shot_min), math.log10(self.shot_max)
        log_shot = lo + (hi - lo) * _uniform(generator)
        log_read = self.slope * log_shot + self.intercept + self.read_sigma * _normal(generator)
        return math.sqrt(10.0**log_shot + 10.0**log_read)

    def describe(self) -> str:
        return "sidd prior"


def parse_level(text: str) -> LevelPolicy:
    """``0.03`` (fixed), ``0.01:0.05`` (uniform range), ``0.01,0.02,0.04`` (list) or ``sidd``."""
    spec = str(text).strip()
    try:
        if spec.lower() == "sidd":
            return SIDDPrior()
        if ":" in spec:
            low, high = spec.split(":", 1)
            return UniformLevel(float(low), float(high))
        if "," in spec:
            return ChoiceLevel(tuple(float(v) for v in spec.split(",") if v.strip()))
        return FixedLevel(float(spec))
    except ValueError:
        raise UserError(
            f"noise level {text!r} is not understood; use a std like 0.03, a range 0.01:0.05, "
            "a list 0.01,0.02,0.04 or 'sidd'"
        ) from None


def as_policy(level: LevelPolicy | str | float) -> LevelPolicy:
    """A policy from a policy, a :func:`parse_level` string or a number."""
    if isinstance(level, LevelPolicy):
        return level
    if isinstance(level, str):
        return parse_level(level)
    return FixedLevel(float(level))


def measure_level(noisy: np.ndarray | torch.Tensor, clean: np.ndarray | torch.Tensor) -> float:
    """The std of ``noisy - clean`` (all pixels and channels), as the model was trained with."""
    noisy_t = torch.as_tensor(np.asarray(noisy) if not isinstance(noisy, torch.Tensor) else noisy)
    clean_t = torch.as_tensor(np.asarray(clean) if not isinstance(clean, torch.Tensor) else clean)
    if noisy_t.shape != clean_t.shape:
        raise UserError(
            f"a reference pair must have equal sizes, got noisy {tuple(noisy_t.shape)} and clean {tuple(clean_t.shape)}"
        )
    return float(noise_level(noisy_t.double(), clean_t.double()))


def level_of_sequence(levels: Sequence[float] | torch.Tensor, rows: int) -> list[float]:
    """Per-image levels from one number or one number per image."""
    values = torch.as_tensor(levels, dtype=torch.float64).flatten().tolist()
    if len(values) == 1:
        values = values * rows
    if len(values) != rows:
        raise UserError(f"got {len(values)} noise levels for {rows} images; give one, or one per image")
    return [check_level(v) for v in values]
