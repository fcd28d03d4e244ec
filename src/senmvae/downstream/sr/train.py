"""Training the SR network: L1, optionally a perceptual term and a relativistic average GAN (ESRGAN's losses).

ESRGAN (Wang et al. 2018) trains with L1, a VGG perceptual loss and a RaGAN discriminator.
Here the perceptual distance is the project's (:func:`senmvae.features.build_perceptual_loss`:
EfficientNet-Lite0 features with no files to fetch, or LPIPS from your weight files), the
discriminator the project's PatchGAN, and the RaGAN losses those of the SeNM-VAE objective.
The default is the PSNR-oriented stage (L1 only), which a CPU budget can train.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch.nn import functional as F

from senmvae.config import Config, ConfigError
from senmvae.downstream.dncnn import LR_SCHEDULES
from senmvae.downstream.sr.crops import SRCropSource
from senmvae.downstream.sr.rrdb import RRDBConfig, RRDBNet
from senmvae.downstream.train import TrainingHistory, run_schedule
from senmvae.features import build_perceptual_loss
from senmvae.model.discriminator import DiscriminatorConfig, PatchDiscriminator
from senmvae.model.objective import ragan_discriminator_loss, ragan_generator_loss

PERCEPTUAL_KINDS = ("none", "effnet", "lpips")


@dataclass
class SRTrainConfig(Config):
    """Network, batches, schedule and losses of the SR network.

    ``steps`` is the budget every degradation model gets (with the same batches, crops and
    seed); ``time_budget_s`` optionally stops earlier. ``lr_crop``: side of the LR training
    crops (HR crops are ``rrdb.scale`` times larger). ``lr_schedule``: "constant", "cosine"
    (to ``lr * lr_min_ratio``) or "step" (halved at 50, 75 and 90 % of the budget), after
    ``warmup_steps`` of linear warm-up.
    """

    rrdb: RRDBConfig = field(default_factory=RRDBConfig)
    batch_size: int = 8
    lr_crop: int = 24
    steps: int = 500
    time_budget_s: float | None = None
    lr: float = 2e-3
    lr_schedule: str = "cosine"
    lr_min_ratio: float = 0.01
    warmup_steps: int = 20
    adam_betas: tuple[float, ...] = (0.9, 0.99)
    l1_weight: float = 1.0
    perceptual: str = "none"  # "effnet", "lpips" (needs lpips_backbone and lpips_linear) or "none"
    perceptual_weight: float = 0.0
    lpips_backbone: str | None = None
    lpips_linear: str | None = None
    gan_weight: float = 0.0  # ESRGAN: 5e-3 next to L1 1e-2 and perceptual 1
    discriminator: DiscriminatorConfig = field(default_factory=lambda: DiscriminatorConfig(base_channels=32))
    discriminator_lr: float = 1e-4
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("batch_size", "lr_crop", "steps"):
            if getattr(self, name) < 1:
                raise ConfigError(f"sr.{name} must be positive, got {getattr(self, name)}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ConfigError(f"sr.lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got {self.lr_schedule!r}")
        if self.lr <= 0 or self.discriminator_lr <= 0 or not 0 <= self.lr_min_ratio <= 1 or self.warmup_steps < 0:
            raise ConfigError("sr.lr and sr.discriminator_lr must be positive, 0 <= sr.lr_min_ratio <= 1, warmup >= 0")
        if self.perceptual not in PERCEPTUAL_KINDS:
            raise ConfigError(f"sr.perceptual must be one of {', '.join(PERCEPTUAL_KINDS)}, got {self.perceptual!r}")
        if min(self.l1_weight, self.perceptual_weight, self.gan_weight) < 0:
            raise ConfigError("sr loss weights must be non-negative")
        if self.perceptual_weight > 0 and self.perceptual == "none":
            raise ConfigError("sr.perceptual_weight > 0 needs sr.perceptual 'effnet' or 'lpips'")
        if len(self.adam_betas) != 2:
            raise ConfigError(f"sr.adam_betas must hold two numbers, got {list(self.adam_betas)}")


def train_sr(
    config: SRTrainConfig, crops: SRCropSource, *, log_every: int = 25, progress: bool = True, desc: str = "SR network"
) -> tuple[RRDBNet, TrainingHistory]:
    """Train an :class:`RRDBNet` for ``config.steps`` batches of ``crops(batch_size, lr_crop, generator)``.

    Weights, crops and degradations draw from generators seeded by ``config.seed``, so two runs
    with the same config see the same HR crops in the same order.
    """
    torch.manual_seed(config.seed)
    model = RRDBNet(config.rrdb)
    generator = torch.Generator().manual_seed(config.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, betas=tuple(config.adam_betas))
    perceptual = (
        build_perceptual_loss(config.perceptual, config.lpips_backbone, config.lpips_linear)
        if config.perceptual_weight > 0
        else None
    )
    discriminator = d_optimizer = None
    if config.gan_weight > 0:
        discriminator = PatchDiscriminator(3, config.discriminator)
        d_optimizer = torch.optim.Adam(discriminator.parameters(), lr=config.discriminator_lr, betas=(0.9, 0.99))

    def train_step(step: int) -> torch.Tensor:
        low, high = crops(config.batch_size, config.lr_crop, generator)
        output = model(low)
        loss = config.l1_weight * F.l1_loss(output, high)
        if perceptual is not None:
            loss = loss + config.perceptual_weight * perceptual(output.clamp(0, 1), high).mean()
        if discriminator is not None:
            loss = loss + config.gan_weight * ragan_generator_loss(discriminator(high), discriminator(output))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if discriminator is not None:
            d_loss = ragan_discriminator_loss(discriminator(high), discriminator(output.detach()))
            d_optimizer.zero_grad(set_to_none=True)
            d_loss.backward()
            d_optimizer.step()
        return loss

    model.train()
    history = run_schedule(config, optimizer, train_step, desc=desc, log_every=log_every, progress=progress)
    model.eval()
    return model, history
