"""Sizes of the SeNM-VAE network, and the named presets."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from senmvae.config import Config, ConfigError


@dataclass
class LevelPredictorConfig(Config):
    """Noise-level predictor: stride-2 4x4 convs, global average pool, then an MLP to one std."""

    channels: tuple[int, ...] = (64, 128, 256, 512)
    hidden: tuple[int, ...] = (256, 128)


@dataclass
class PixelNoiseConfig(Config):
    """The pixel-noise head (senmvae.model.pixel_noise): ``layers`` 3x3 convolutions of ``channels``
    for where the noise is, and a ``kernel`` x ``kernel`` colouring of its field (1: white)."""

    channels: int = 32
    layers: int = 4
    kernel: int = 1

    def __post_init__(self) -> None:
        if self.channels < 1 or self.layers < 1:
            raise ConfigError(f"pixel_noise channels and layers must be positive, got {self.channels}, {self.layers}")
        if self.kernel < 1 or self.kernel % 2 == 0:
            raise ConfigError(f"pixel_noise.kernel must be a positive odd number, got {self.kernel}")


@dataclass
class ModelConfig(Config):
    """Every size of the network.

    ``levels_per_group``: groups of plain latent levels; a resampling level (downsample in the
    encoders, upsample in the decoder) separates consecutive groups, so ``(2, 4)`` gives 2
    full-resolution levels, 1 resampling level and 4 half-resolution levels (L = 7).
    ``num_down``: PixelUnshuffle downsamplings in the input stems (and matching upsamplings
    at the output), which shrink every level by 2 per step.

    Initialisation (the defaults are the authors'): ``projection_gain`` starts the z
    projection at ``gain * identity`` and the zn projection at ``gain`` times a He-normal draw
    instead of zero, so that the mean heads of the latents get gradient from the first step;
    ``content_log_sigma_bias`` is the initial log sigma of q(z|x) and q(z|y). ``level_scale``
    multiplies the noise level before it enters the zn heads as a channel (a std of 0.02 is a
    small input next to unit-scale features).

    ``pixel_noise``: a learned per-pixel observation noise of the noisy decoder (not in the
    paper; None there), see :mod:`senmvae.model.pixel_noise`.
    """

    in_channels: int = 3
    channels: int = 64
    growth: int = 32
    levels_per_group: tuple[int, ...] = (2, 4)
    zn_channels: int = 16
    num_down: int = 0
    projection_gain: float = 0.0
    content_log_sigma_bias: float = 0.0
    level_scale: float = 1.0
    level_predictor: LevelPredictorConfig | None = field(default_factory=LevelPredictorConfig)
    pixel_noise: PixelNoiseConfig | None = None

    def __post_init__(self) -> None:
        if not self.levels_per_group or any(n < 1 for n in self.levels_per_group):
            raise ConfigError(f"levels_per_group must be positive counts, got {self.levels_per_group}")
        if self.channels % 4 and (self.num_down or len(self.levels_per_group) > 1):
            raise ConfigError(f"channels must be divisible by 4 to resample, got {self.channels}")
        for name in ("in_channels", "channels", "growth", "zn_channels"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")
        if self.num_down < 0:
            raise ConfigError(f"num_down must be >= 0, got {self.num_down}")
        for name in ("projection_gain", "content_log_sigma_bias", "level_scale"):
            if not math.isfinite(getattr(self, name)):
                raise ConfigError(f"model.{name} must be a finite number, got {getattr(self, name)}")
        if self.level_scale <= 0 or self.projection_gain < 0:
            raise ConfigError("model.level_scale must be positive and model.projection_gain >= 0")

    @property
    def level_kinds(self) -> list[str]:
        """``"block"`` or ``"resample"`` for each latent level, bottom (full resolution) first."""
        kinds: list[str] = []
        for i, n in enumerate(self.levels_per_group):
            kinds += ["block"] * n
            if i != len(self.levels_per_group) - 1:
                kinds.append("resample")
        return kinds

    @property
    def num_levels(self) -> int:
        return len(self.level_kinds)

    @property
    def size_multiple(self) -> int:
        """Image sides must be multiples of this; other sizes are padded and cropped back."""
        return 2 ** (self.num_down + len(self.levels_per_group) - 1)


MODEL_PRESETS: dict[str, ModelConfig] = {
    # The authors' official sizes (about 20.0 M parameters in the VAE).
    "paper": ModelConfig(),
    # Sized for a 2-core CPU: one training step of batch 8 at 64x64 in about a second.
    "cpu": ModelConfig(
        channels=24,
        growth=12,
        levels_per_group=(1, 2),
        zn_channels=8,
        num_down=1,
        level_predictor=LevelPredictorConfig(channels=(16, 32, 64, 64), hidden=(32, 16)),
        pixel_noise=PixelNoiseConfig(kernel=7),
    ),
    # For unit tests only.
    "tiny": ModelConfig(
        channels=8,
        growth=4,
        levels_per_group=(1, 1),
        zn_channels=2,
        num_down=0,
        level_predictor=LevelPredictorConfig(channels=(8, 8, 8, 8), hidden=(8,)),
    ),
}


def model_preset(name: str) -> ModelConfig:
    try:
        return MODEL_PRESETS[name]
    except KeyError:
        raise ConfigError(f"unknown model preset {name!r}; choose one of {', '.join(MODEL_PRESETS)}") from None
