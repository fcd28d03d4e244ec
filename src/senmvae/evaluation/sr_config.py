"""Settings of ``senmvae benchmark --task sr``."""

from __future__ import annotations

from dataclasses import dataclass, field

from senmvae.config import Config, ConfigError
from senmvae.downstream.sr.train import SRTrainConfig
from senmvae.evaluation.shared_settings import check_shared_settings


@dataclass
class SRBudgetShares(Config):
    """Fractions of the wall-clock budget: SeNM-VAE training (split between its runs) and the time cap of the
    SR networks (split evenly between them; their comparison budget is ``sr.steps``). The rest: data and scoring."""

    senmvae: float = 0.35
    sr_networks: float = 0.55

    def __post_init__(self) -> None:
        if min(self.senmvae, self.sr_networks) < 0 or self.senmvae + self.sr_networks > 1.0:
            raise ConfigError("budget shares must be non-negative and add up to at most 1")


@dataclass
class SRBenchmarkConfig(Config):
    # SPEC of an AIM 2019 / NTIRE 2020 layout (or a manifest or YAML spec of one); "default": the
    # SIMULATED SR set (senmvae.data.simulated_sr) built from the bundled photos plus ``photos``.
    train: str = "default"
    photos: tuple[str, ...] = ()  # extra folders of clean photos for the simulated set
    eval: str | None = None  # SPEC of the evaluation pairs; None: the validation pairs after the paired ones
    paired: int = 10  # the first N validation pairs (by name) are the paired domain, as in the paper
    budget_minutes: float = 30.0
    seed: int = 0
    scale: int = 4
    preset: str = "cpu"  # training preset of a SeNM-VAE run from scratch
    finetune_preset: str = "finetune"  # training preset of the run from ``init``
    init: str | None = "base"  # model to fine-tune (senmvae_finetuned rows); None: train from scratch only
    from_scratch: bool = False  # with init: also train from scratch (senmvae rows)
    train_overrides: tuple[str, ...] = ()  # extra KEY=VALUE settings of the SeNM-VAE runs
    samplers: tuple[str, ...] = ("paper", "content-exact")  # one degradation row per SeNM-VAE run and sampler
    second_order_config: str | None = None  # YAML of SecondOrderConfig; None: Real-ESRGAN's defaults
    realism_fd: bool = True  # the Frechet distance of LR features (fd_effnet_lite0; a few seconds per row)
    max_eval_pairs: int = 40
    eval_crop: int = 128  # centre crop of every evaluation LR image, in LR pixels (0: whole images)
    border: int | None = None  # pixels cut from each side of SR output and HR before PSNR/SSIM; None: the scale
    shares: SRBudgetShares = field(default_factory=SRBudgetShares)
    sr: SRTrainConfig = field(default_factory=SRTrainConfig)
    report_crops: int = 4
    report_crop_size: int = 32  # LR pixels (the SR grid shows scale times more)
    device: str = "cpu"
    lpips_backbone: str | None = None  # torchvision AlexNet ImageNet weights  } -> lpips_alex
    lpips_linear: str | None = None  # LPIPS v0.1 alex.pth linear layers       }

    def __post_init__(self) -> None:
        check_shared_settings(self)
        if self.scale != self.sr.rrdb.scale:
            raise ConfigError(f"scale ({self.scale}) and sr.rrdb.scale ({self.sr.rrdb.scale}) must agree")
        if self.max_eval_pairs < 1 or self.eval_crop < 0 or self.report_crop_size < 1:
            raise ConfigError("max_eval_pairs and report_crop_size must be positive and eval_crop >= 0")

    @property
    def border_pixels(self) -> int:
        return self.scale if self.border is None else self.border
