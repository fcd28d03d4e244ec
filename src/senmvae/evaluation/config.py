"""Settings of ``senmvae benchmark``."""

from __future__ import annotations

from dataclasses import dataclass, field

from senmvae.config import Config, ConfigError
from senmvae.downstream import TRAINING_MODES, DnCNNConfig
from senmvae.evaluation.shared_settings import check_shared_settings

BASELINE_ROWS = ("awgn", "heteroscedastic", "colored_heteroscedastic", "second_order")
SYNTHESIS_SOURCES = ("source", "source+paired")
UNPAIRED_DOMAINS = ("source", "target")


@dataclass
class BudgetShares(Config):
    """Fractions of the wall-clock budget given to each stage (the rest: synthesis and metrics)."""

    senmvae: float = 0.40  # split evenly between the from-scratch and the fine-tuned run when both run
    senmvae_paired_only: float = 0.15
    denoisers: float = 0.35  # the DnCNNs' training (every one the same steps; docs/benchmark.md)

    def __post_init__(self) -> None:
        if min(self.senmvae, self.senmvae_paired_only, self.denoisers) < 0 or (
            self.senmvae + self.senmvae_paired_only + self.denoisers > 1.0
        ):
            raise ConfigError("budget shares must be non-negative and add up to at most 1")


@dataclass
class BenchmarkConfig(Config):
    train: str = "default"  # SPEC of the training data (a paired collection is split)
    eval: str | None = None  # SPEC of the evaluation pairs; None: held-out scenes of --train
    paired: int = 10  # pairs kept paired when splitting a paired collection
    budget_minutes: float = 30.0
    seed: int = 0
    # seed of the scene split alone (None: seed): runs that differ only in their training seed
    # can then share one split, so that they are scored on the same held-out scenes
    split_seed: int | None = None
    preset: str = "cpu"  # training preset of the SeNM-VAE runs
    train_overrides: tuple[str, ...] = ()  # extra KEY=VALUE settings of the SeNM-VAE runs
    # Pretrained model to fine-tune ("base", "polyu", a run folder or a .safetensors file): adds
    # the senmvae_finetuned row, and the paired-only variant starts from it too.
    init: str | None = None
    finetune_preset: str = "finetune"  # training preset of the runs that start from init
    from_scratch: bool = True  # with init: also train the from-scratch run
    samplers: tuple[str, ...] = ("paper", "content-exact")  # a row per SeNM-VAE run and sampler
    # share of scenes held out for evaluation when --eval is omitted (None: a quarter, or a third
    # where every scene is one pair; evaluation.fidelity.held_out_fraction)
    validation_fraction: float | None = None
    max_eval_pairs: int = 24
    eval_crop: int = 256  # centre crop of every evaluation pair (0: whole images)
    temperature: float = 1.0
    # What the SeNM-VAE runs learn from besides the paired images (the paper's Table 7): the first
    # ``unpaired`` images (None: all) of each unpaired domain named in ``unpaired_domains``. The
    # denoisers' source clean images and everything evaluated stay the same whatever these say.
    unpaired: int | None = None
    unpaired_domains: tuple[str, ...] = ("source", "target")
    # Fitted or fixed noise models compared with SeNM-VAE, a row each (the real noise is always a
    # row): some of BASELINE_ROWS; "second_order" is Real-ESRGAN's pipeline on a 4x bicubic
    # upscale of each clean image, for sets whose clean images are downscaled HR images (aim19-lr).
    baselines: tuple[str, ...] = ("awgn", "heteroscedastic", "colored_heteroscedastic")
    # Clean images of the denoisers' synthetic pairs: the source domain's, or also the paired
    # clean images ("source+paired": the paper's Table 2, where N paired pairs may be all there is).
    synthesize_from: str = "source"
    # Also a denoiser trained on the real paired crops alone (the paper's Table 2 baseline), the
    # "paired_alone" row; its score stands in every training mode's column.
    paired_alone: bool = False
    # What the downstream denoisers train on (a column each): "synthetic" = synthetic pairs only
    # (the paper's Table 1), "synthetic+paired" = each batch split with the real paired crops by
    # paired_fraction (its Table 2).
    denoiser_training: tuple[str, ...] = ("synthetic", "synthetic+paired")
    paired_fraction: float = 0.5  # share of real paired crops in each synthetic+paired batch
    denoiser_seeds: int = 1  # denoisers per row and training mode (seeds seed, seed + 1, ...)
    denoiser_draws: int = 2  # noisy versions of each source clean image, synthesized before training
    shares: BudgetShares = field(default_factory=BudgetShares)
    denoiser: DnCNNConfig = field(default_factory=DnCNNConfig)
    report_crops: int = 4
    report_crop_size: int = 96
    device: str = "cpu"
    # Standard metrics whose networks cannot be downloaded here: computed when you pass the files.
    inception_weights: str | None = None  # pytorch-fid pt_inception-2015-12-05 file -> fid_inception
    lpips_backbone: str | None = None  # torchvision AlexNet ImageNet weights  } -> lpips_alex
    lpips_linear: str | None = None  # LPIPS v0.1 alex.pth linear layers       }

    def __post_init__(self) -> None:
        check_shared_settings(self)
        if self.max_eval_pairs < 1:
            raise ConfigError(f"max_eval_pairs must be at least 1, got {self.max_eval_pairs}")
        modes = list(self.denoiser_training)
        if not modes or len(set(modes)) < len(modes) or not set(modes) <= set(TRAINING_MODES):
            raise ConfigError(
                f"denoiser_training must be one or both of {', '.join(TRAINING_MODES)}, each once, got {modes}"
            )
        if self.denoiser_seeds < 1 or self.denoiser_draws < 1:
            raise ConfigError(
                f"denoiser_seeds and denoiser_draws must be at least 1, got {self.denoiser_seeds} and "
                f"{self.denoiser_draws}"
            )
        if self.unpaired is not None and self.unpaired < 0:
            raise ConfigError(f"unpaired must be >= 0 images per domain (or null: all), got {self.unpaired}")
        if not set(self.unpaired_domains) <= set(UNPAIRED_DOMAINS):
            raise ConfigError(
                f"unpaired_domains must be some of {', '.join(UNPAIRED_DOMAINS)}, got {list(self.unpaired_domains)}"
            )
        if len(set(self.baselines)) < len(self.baselines) or not set(self.baselines) <= set(BASELINE_ROWS):
            raise ConfigError(
                f"baselines must be some of {', '.join(BASELINE_ROWS)}, each once, got {list(self.baselines)}"
            )
        if self.synthesize_from not in SYNTHESIS_SOURCES:
            raise ConfigError(
                f"synthesize_from must be one of {', '.join(SYNTHESIS_SOURCES)}, got {self.synthesize_from!r}"
            )
        if not 0.0 <= self.paired_fraction <= 1.0:
            raise ConfigError(f"paired_fraction must be within [0, 1], got {self.paired_fraction}")
