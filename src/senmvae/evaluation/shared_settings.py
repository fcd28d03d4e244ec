"""The settings both benchmarks (denoising and SR) have, and their checks."""

from __future__ import annotations

from typing import Protocol

from senmvae.config import ConfigError


class SharedSettings(Protocol):
    """What ``check_shared_settings`` reads: fields of BenchmarkConfig and SRBenchmarkConfig alike."""

    budget_minutes: float
    paired: int
    samplers: tuple[str, ...]
    lpips_backbone: str | None
    lpips_linear: str | None


def check_shared_settings(cfg: SharedSettings) -> None:
    """Raise ConfigError on a non-positive budget, fewer than one paired pair, half of the LPIPS weights, or an
    empty or unknown sampler list."""
    if cfg.budget_minutes <= 0:
        raise ConfigError(f"--budget must be positive minutes, got {cfg.budget_minutes}")
    if cfg.paired < 1:
        raise ConfigError(f"--paired must be at least 1, got {cfg.paired}")
    if bool(cfg.lpips_backbone) != bool(cfg.lpips_linear):
        raise ConfigError("LPIPS needs both lpips_backbone and lpips_linear weight files")
    from senmvae.generate.noise_model import SAMPLERS

    unknown = [s for s in cfg.samplers if s not in SAMPLERS]
    if unknown or not cfg.samplers:
        raise ConfigError(f"samplers must be some of {', '.join(SAMPLERS)}, got {list(cfg.samplers)}")
