"""Typed training configuration and the named presets ``paper``, ``cpu`` and ``tiny``.

A run's configuration is resolved in layers: a preset (default ``paper``), then a YAML file,
then ``key=value`` overrides. Unknown keys anywhere are an error that names them.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from pathlib import Path

from senmvae.config import Config, ConfigError, read_yaml_mapping
from senmvae.model.config import ModelConfig, model_preset
from senmvae.model.discriminator import DiscriminatorConfig
from senmvae.model.objective import ObjectiveConfig

LEVEL_SOURCES = ("crop", "image")


@dataclass
class DataConfig(Config):
    spec: str = "default"  # dataset folder, split manifest, YAML spec, or "default" (embedded set)
    crop: int = 64
    batch_size: int = 8  # global batch: split over processes when running distributed
    frequencies: tuple[float, ...] = (1.0, 1.0, 1.0)  # how often paired / source / target samples are drawn
    workers: int = 0  # DataLoader worker processes
    # Split a paired collection as 'senmvae data split --paired N' does: N pairs paired, the other
    # scenes divided into source, target and validation. None: use the spec's domains as they are.
    paired: int | None = None
    validation_fraction: float = 0.1  # share of the scenes the split holds out for validation
    # The noise level a paired sample is conditioned on: "crop", the std of the crop's own noise
    # (the authors' training), or "image", the std of its whole image's noise: the level that
    # `synthesize --level` and the benchmark give, so that the model learns how the noise varies
    # with intensity across a whole image rather than within a crop of known std. None: as
    # init.weights was trained ("image" for the shipped models; "crop" from scratch, for official
    # checkpoints and for files that do not say), resolved when the run starts.
    level: str | None = None

    def __post_init__(self) -> None:
        if self.level is not None and self.level not in LEVEL_SOURCES:
            raise ConfigError(f"data.level must be one of {', '.join(LEVEL_SOURCES)}, got {self.level!r}")
        if self.crop < 1 or self.batch_size < 1 or self.workers < 0:
            raise ConfigError("data.crop and data.batch_size must be positive and data.workers >= 0")
        if self.paired is not None and self.paired < 1:
            raise ConfigError(f"data.paired must be >= 1 or null, got {self.paired}")
        if len(self.frequencies) != 3 or any(f < 0 for f in self.frequencies) or not any(self.frequencies):
            raise ConfigError(
                f"data.frequencies must be three non-negative weights (paired, source, target), got {self.frequencies}"
            )


@dataclass
class OptimConfig(Config):
    """Adam for the VAE + level predictor and Adam for the discriminator, with the update guards."""

    lr: float = 1e-4
    # The pixel-noise head's own rate (None: ``lr``; 0: a pretrained head is kept as it is, a
    # fresh one still learns at ``lr``). It learns only from its own terms, so its rate does not
    # move the VAE. Fine-tuning on a few small pairs overfits it (docs/training.md), where 0
    # keeps the pretrained head.
    pixel_noise_lr: float | None = None
    # The rate of the head's colouring alone: its colour-mixing kernel and white floor (None: the
    # head's rate; 0: kept). A few small tiles determine these few hundred weights where they
    # overfit the per-pixel std network, so a short fine-tune can adapt the one and keep the other.
    pixel_noise_colour_lr: float | None = None
    betas: tuple[float, ...] = (0.9, 0.999)
    discriminator_lr: float = 1e-4
    discriminator_betas: tuple[float, ...] = (0.9, 0.999)
    grad_clip: float = 200.0  # max norm of the VAE gradient
    skip_grad_norm: float | None = 150.0  # skip the VAE update when its gradient norm reaches this
    ema_decay: float | None = None  # exponential moving average of the weights; None: off
    micro_batches: int = 1  # split each (per-process) batch into this many sequential chunks
    amp: bool = True  # bf16 autocast on CUDA (ignored on CPU)

    def __post_init__(self) -> None:
        for name in ("lr", "discriminator_lr"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ConfigError(f"optim.{name} must be a positive finite number, got {value}")
        for name in ("pixel_noise_lr", "pixel_noise_colour_lr"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ConfigError(f"optim.{name} must be a finite number >= 0 or null, got {value}")
        for name in ("betas", "discriminator_betas"):
            betas = getattr(self, name)
            if len(betas) != 2 or not all(math.isfinite(b) and 0.0 <= b < 1.0 for b in betas):
                raise ConfigError(f"optim.{name} must be two numbers in [0, 1), got {list(betas)}")
        if self.skip_grad_norm is not None and not self.skip_grad_norm > 0:
            raise ConfigError(f"optim.skip_grad_norm must be positive or null, got {self.skip_grad_norm}")
        if self.ema_decay is not None and not 0.0 < self.ema_decay < 1.0:
            raise ConfigError(f"optim.ema_decay must be in (0, 1) or null, got {self.ema_decay}")
        if self.micro_batches < 1:
            raise ConfigError(f"optim.micro_batches must be >= 1, got {self.micro_batches}")
        if not self.grad_clip > 0:
            raise ConfigError(f"optim.grad_clip must be positive, got {self.grad_clip}")


LR_SCHEDULES = ("multistep", "cosine")


@dataclass
class ScheduleConfig(Config):
    """Length of the run and the learning-rate schedule (both optimizers).

    ``lr_schedule``: ``"multistep"`` (the authors': times ``gamma`` at each milestone) or
    ``"cosine"``: a linear warm-up over ``warmup_steps``, then a cosine from the base rate
    down to ``final_lr_fraction`` of it at the end of the run, where the end is whichever
    comes first of ``steps`` and ``max_minutes``, so that a run stopped by its time budget
    has decayed by then.
    """

    steps: int = 300_000
    milestones: tuple[int, ...] = (150_000, 225_000, 270_000, 285_000)
    gamma: float = 0.5
    # Stop earlier once this much wall-clock time has passed in this invocation (checkpointed
    # and exported like a finished run); None: run all the steps.
    max_minutes: float | None = None
    lr_schedule: str = "multistep"
    warmup_steps: int = 0
    final_lr_fraction: float = 0.1

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ConfigError(f"schedule.steps must be >= 1, got {self.steps}")
        if self.max_minutes is not None and not (math.isfinite(self.max_minutes) and self.max_minutes > 0):
            raise ConfigError(f"schedule.max_minutes must be a positive number, got {self.max_minutes}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ConfigError(
                f"schedule.lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got {self.lr_schedule!r}"
            )
        if self.warmup_steps < 0:
            raise ConfigError(f"schedule.warmup_steps must be >= 0, got {self.warmup_steps}")
        if not 0.0 <= self.final_lr_fraction <= 1.0:
            raise ConfigError(f"schedule.final_lr_fraction must be in [0, 1], got {self.final_lr_fraction}")
        if not (math.isfinite(self.gamma) and self.gamma > 0):
            raise ConfigError(f"schedule.gamma must be a positive number, got {self.gamma}")
        if list(self.milestones) != sorted(self.milestones):
            raise ConfigError(f"schedule.milestones must be increasing, got {self.milestones}")


@dataclass
class CheckpointConfig(Config):
    every: int = 5_000
    keep_last: int = 3

    def __post_init__(self) -> None:
        if self.every < 1 or self.keep_last < 1:
            raise ConfigError("checkpoint.every and checkpoint.keep_last must be >= 1")


# Validation metrics that can pick the best checkpoint, with whether lower is better.
BEST_METRICS = {"noise_kl": True, "psnr_recon": False}


@dataclass
class ValidationConfig(Config):
    every: int = 5_000  # 0: never
    pairs: int = 8  # held-out pairs used (the first ones of the dataset's validation list)
    crop: int = 256  # centre crop of each pair (rounded down to what the model accepts)
    best_metric: str = "noise_kl"

    def __post_init__(self) -> None:
        if self.best_metric not in BEST_METRICS:
            raise ConfigError(
                f"validation.best_metric must be one of {', '.join(BEST_METRICS)}, got {self.best_metric!r}"
            )
        if self.every < 0 or self.pairs < 0 or self.crop < 1:
            raise ConfigError("validation.every and validation.pairs must be >= 0 and validation.crop >= 1")


@dataclass
class LoggingConfig(Config):
    every: int = 100  # metrics line (means over the interval) every this many steps
    tensorboard: bool = True  # event files under RUN/tb when tensorboard is installed
    progress: bool = True  # progress bar on the terminal

    def __post_init__(self) -> None:
        if self.every < 1:
            raise ConfigError(f"logging.every must be >= 1, got {self.every}")


OUTPUT_BIAS_INITS = ("zero", "data")


@dataclass
class InitConfig(Config):
    """Where a new run's weights start.

    ``weights``: a pretrained model name (``base``, ``polyu``), a run folder, a
    ``.safetensors`` model file or an official ``.pth`` checkpoint to fine-tune (its model sizes
    replace ``model``; a level predictor or pixel-noise head it lacks starts fresh); None: from
    scratch. ``output_bias``: for a run from scratch, ``"data"`` starts the decoder's last
    bias at the per-channel mean of the training images (the authors' code starts at zero
    while photos average about 0.4).
    """

    weights: str | None = None
    output_bias: str = "zero"

    def __post_init__(self) -> None:
        if self.output_bias not in OUTPUT_BIAS_INITS:
            raise ConfigError(
                f"init.output_bias must be one of {', '.join(OUTPUT_BIAS_INITS)}, got {self.output_bias!r}"
            )


PERCEPTUAL_KINDS = ("effnet", "lpips", "none")


@dataclass
class PerceptualConfig(Config):
    """Perceptual distance on the noisy reconstruction (weight: ``objective.perceptual_weight``)."""

    kind: str = "effnet"  # "effnet" (EfficientNet-Lite0 features), "lpips" (your weight files) or "none"
    lpips_backbone: str | None = None  # AlexNet ImageNet weights, for kind "lpips"
    lpips_linear: str | None = None  # LPIPS linear-layer weights, for kind "lpips"

    def __post_init__(self) -> None:
        if self.kind not in PERCEPTUAL_KINDS:
            raise ConfigError(f"perceptual.kind must be one of {', '.join(PERCEPTUAL_KINDS)}, got {self.kind!r}")
        if self.kind == "lpips" and not (self.lpips_backbone and self.lpips_linear):
            raise ConfigError(
                "perceptual.kind 'lpips' needs perceptual.lpips_backbone (torchvision AlexNet weights) and "
                "perceptual.lpips_linear (LPIPS v0.1 alex.pth); set both, or use the default 'effnet'"
            )


@dataclass
class TrainConfig(Config):
    """Everything a training run needs; the defaults are the official recipe (docs/training.md)."""

    model: ModelConfig = field(default_factory=ModelConfig)
    init: InitConfig = field(default_factory=InitConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    perceptual: PerceptualConfig = field(default_factory=PerceptualConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    seed: int = 0
    device: str = "auto"  # "auto" (cuda when available), "cpu", "cuda" or "cuda:N"
    deterministic: bool = False  # torch.use_deterministic_algorithms: bit-exact resume, slower on GPU

    def __post_init__(self) -> None:
        multiple = self.model.size_multiple
        if self.data.crop % multiple:
            raise ConfigError(f"data.crop must be a multiple of {multiple} for this model, got {self.data.crop}")
        if self.data.batch_size % self.optim.micro_batches:
            raise ConfigError(
                f"data.batch_size ({self.data.batch_size}) must be divisible by optim.micro_batches "
                f"({self.optim.micro_batches})"
            )
        if self.model.level_predictor is None and self.data.frequencies[2]:
            raise ConfigError(
                "noisy-only (target) samples need the noise-level predictor: set model.level_predictor "
                "or data.frequencies to [p, s, 0]"
            )


# Short runs on a 2-core CPU: the cpu model and the fast-learning recipe of docs/training.md
# (content path initialised to learn from step 0, lr 5e-4 with warm-up and a cosine over the
# steps or the time budget, the noise-residual term, no perceptual or GAN term: in minutes of
# training from scratch they pull the content path down, measured in the ablation).
_CPU = TrainConfig(
    model=model_preset("cpu").merged({"projection_gain": 0.1, "content_log_sigma_bias": -2.5, "level_scale": 20.0}),
    init=InitConfig(output_bias="data"),
    discriminator=DiscriminatorConfig(base_channels=32),
    objective=ObjectiveConfig(kl_anneal_steps=300, noise_residual_weight=1.0, perceptual_weight=0.0, gan_weight=0.0),
    optim=OptimConfig(lr=5e-4),
    schedule=ScheduleConfig(steps=3_000, milestones=(), lr_schedule="cosine", warmup_steps=100, final_lr_fraction=0.1),
    checkpoint=CheckpointConfig(every=250, keep_last=3),
    validation=ValidationConfig(every=250, pairs=4, crop=128),
    logging=LoggingConfig(every=10),
    device="cpu",
)

TRAIN_PRESETS: dict[str, TrainConfig] = {
    "paper": TrainConfig(),
    "cpu": _CPU,
    # Fine-tuning a pretrained cpu-sized model (init.weights, default the shipped base): gentle,
    # so that the noise path learned in pretraining survives while the content path adapts (at
    # lr 5e-4 with the noise-residual term, zn collapsed on PolyU; docs/training.md).
    "finetune": _CPU.merged(
        {
            "init": {"weights": "base", "output_bias": "zero"},
            # The perceptual and GAN terms as the paper has them: base and every fine-tuned
            # result of docs/ were trained and measured with them.
            "objective": {
                "kl_anneal_steps": 0,
                "noise_residual_weight": 0.0,
                "perceptual_weight": 1e-2,
                "gan_weight": 0.1,
            },
            "optim": {"lr": 1e-4},
            "schedule": {"warmup_steps": 0},
        }
    ),
    # For tests: seconds per hundred steps.
    "tiny": TrainConfig(
        model=model_preset("tiny"),
        discriminator=DiscriminatorConfig(base_channels=8, layers=2),
        perceptual=PerceptualConfig(kind="none"),
        objective=ObjectiveConfig(kl_anneal_steps=10),
        data=DataConfig(crop=16, batch_size=4),
        schedule=ScheduleConfig(steps=20, milestones=(10, 15)),
        checkpoint=CheckpointConfig(every=5, keep_last=2),
        validation=ValidationConfig(every=10, pairs=2, crop=32),
        logging=LoggingConfig(every=1, tensorboard=False, progress=False),
        device="cpu",
        deterministic=True,
    ),
}


def train_preset(name: str) -> TrainConfig:
    try:
        return copy.deepcopy(TRAIN_PRESETS[name])
    except KeyError:
        raise ConfigError(f"unknown training preset {name!r}; choose one of {', '.join(TRAIN_PRESETS)}") from None


def resolve_config(
    preset: str | None = None,
    config_file: str | Path | None = None,
    overrides: list[str] | None = None,
    settings: dict | None = None,
) -> TrainConfig:
    """The preset (default ``paper``), the YAML file on top, then ``settings`` (a nested
    partial dict, e.g. from command-line flags), then ``key=value`` overrides."""
    cfg = train_preset(preset or "paper")
    if config_file is not None:
        patch = read_yaml_mapping(config_file)
        try:
            cfg = cfg.merged(patch)
        except ConfigError as err:
            raise ConfigError(f"{config_file}: {err}") from None
    if settings:
        cfg = cfg.merged(settings)
    return cfg.with_overrides(list(overrides or []))
