"""The semi-supervised SeNM-VAE objective (paper eq. 9-11) with the official training terms.

Per sample, by domain (p1 = p2 = 1/2 realised by drawing one posterior per paired sample):

* paired: -log p(x|z) - log p(y|z,zn) + KL(q(zn|y,z) || p(zn|z)) + lambda KL(q(z|y) || q(z|x)),
  z from q(z|x) or q(z|y) at random (the mixture posterior);
* source (clean only): -log p(x|z), z ~ q(z|x)                                  (Loss_s);
* target (noisy only): -log p(y|z,zn) + KL(q(zn|y,z) || p(zn|z)), z ~ q(z|y)      (Loss_t).

As in the official code, -log p is the mean squared error (unit-variance Gaussian up to
constants), every KL is a mean over latent elements summed over levels, each term is averaged
over the samples that have it, the KL weight is annealed linearly, and the zn heads are
conditioned on the true noise std for paired samples and on the level predictor's estimate
for target samples (the predictor learns by L1 against the true std on pairs).
Perceptual and relativistic-GAN terms on the noisy reconstruction join when their networks
are given.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

from senmvae.config import Config, ConfigError
from senmvae.domain import Domain
from senmvae.model.network import SeNMVAE, TrainingOutput
from senmvae.model.pixel_noise import LEVEL_FLOOR, PixelNoise
from senmvae.noise_level import noise_level


@dataclass
class ObjectiveConfig(Config):
    """Loss weights; the defaults are the official ones (docs/training.md, "The recipe")."""

    kl_zn_weight: float = 1e-2  # on KL(q(zn|y,z) || p(zn|z))
    kl_z_lambda: float = 1e-7  # lambda: KL(q(z|y) || q(z|x)) weight, relative to kl_zn_weight
    kl_anneal_steps: int = 10_000  # linear warm-up of both KL weights from 0
    p_clean: float = 0.5  # mixture weight p1 of q(z|x) in q(z|x,y)
    # Weight of the clean reconstruction term ||D(z ~ q(z|x)) - x||^2 (1 in the paper; 0 is its
    # Table 6 ablation "w/o clean reconstruction").
    rec_clean_weight: float = 1.0
    level_weight: float = 1.0  # L1 of the noise-level predictor
    perceptual_weight: float = 1e-2
    gan_weight: float = 0.1
    # Not in the paper (0 there): on paired samples, MSE between the part of the noisy
    # reconstruction that zn adds (the noisy stream decoded with and without zn, same content
    # latents) and the real noise y - x, so that zn models noise rather than content error.
    noise_residual_weight: float = 0.0
    # Not in the paper: for a model with a pixel-noise head, on paired samples, the negative log
    # likelihood of the real noise y - x as s * u, u the head's unit-variance field (white or
    # coloured) and s^2 the head's sigma^2 plus the square of what zn adds there (decoded with
    # zn minus without, detached), and the squared log ratio of each crop's mean s^2 to the
    # mean of (y - x)^2 (calibration of the level). Only the head learns from it.
    pixel_noise_weight: float = 1.0
    # Not in the paper (0 there): on paired samples, the squared log ratio of the normalised 2-D
    # power spectrum of what zn adds (decoded with zn minus without) to the real noise's, pooled
    # over the batch and channels in 4x4 cells of frequencies: zn's noise takes the real noise's
    # correlation and no grid (docs/training.md). The decoder and the zn heads learn from it.
    zn_spectrum_weight: float = 0.0
    # Not in the paper (0 there): the perceptual and GAN terms of the VAE start at this step,
    # so that a short run learns the content first. The discriminator trains from step 0.
    adversarial_start_step: int = 0

    def __post_init__(self) -> None:
        for name in (
            "kl_zn_weight",
            "kl_z_lambda",
            "rec_clean_weight",
            "level_weight",
            "perceptual_weight",
            "gan_weight",
            "noise_residual_weight",
            "pixel_noise_weight",
            "zn_spectrum_weight",
        ):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ConfigError(f"objective.{name} must be a finite number >= 0, got {value}")
        if not 0.0 <= self.p_clean <= 1.0:
            raise ConfigError(f"p_clean must be in [0, 1], got {self.p_clean}")
        if self.kl_anneal_steps < 0:
            raise ConfigError(f"kl_anneal_steps must be >= 0, got {self.kl_anneal_steps}")
        if self.adversarial_start_step < 0:
            raise ConfigError(f"adversarial_start_step must be >= 0, got {self.adversarial_start_step}")

    def kl_scale(self, step: int) -> float:
        return 1.0 if self.kl_anneal_steps == 0 else min(step / self.kl_anneal_steps, 1.0)


@dataclass
class ObjectiveOutput:
    loss: torch.Tensor
    terms: dict[str, torch.Tensor]  # every weighted-sum ingredient, unweighted, plus the weights
    kl_z_per_level: list[torch.Tensor]  # mean over paired samples, level 0 = finest
    kl_zn_per_level: list[torch.Tensor]  # mean over samples with a noisy image
    forward: TrainingOutput = field(repr=False)
    level: torch.Tensor = field(repr=False)  # (B,) level the zn heads saw (0 for clean-only rows)

    def statistics(self) -> dict[str, float]:
        """Plain floats for logging: every term and every level's KL."""
        stats = {"loss": float(self.loss.detach())}
        stats.update({k: float(v.detach()) for k, v in self.terms.items()})
        for i, (kz, kn) in enumerate(zip(self.kl_z_per_level, self.kl_zn_per_level)):
            stats[f"kl_z/level{i}"] = float(kz.detach())
            stats[f"kl_zn/level{i}"] = float(kn.detach())
        return stats


def _mean(x: torch.Tensor) -> torch.Tensor:
    return x.mean() if x.numel() else x.new_zeros(())


SPECTRUM_CELL = 4  # frequencies pooled in cells of this side by spectrum_gap
SPECTRUM_FLOOR = 1e-3  # of the mean power: cells with less are compared at the floor


def normalised_spectrum(noise: torch.Tensor) -> torch.Tensor:
    """The 2-D power spectrum of a batch of noise, averaged over images and channels, pooled
    in ``SPECTRUM_CELL``-square cells of frequencies and divided by its mean (float32)."""
    h, w = noise.shape[-2:]
    h, w = h - h % SPECTRUM_CELL, w - w % SPECTRUM_CELL
    power = torch.fft.fft2(noise[..., :h, :w].float()).abs().pow(2).mean((0, 1))
    cells = F.avg_pool2d(power[None, None], SPECTRUM_CELL)[0, 0]
    return cells / cells.mean().clamp_min(1e-20)


def spectrum_gap(part: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """Mean squared log ratio of the normalised spectra of ``part`` and ``noise`` (0: the same shape)."""
    if part.shape[0] == 0 or min(part.shape[-2:]) < SPECTRUM_CELL:
        return part.new_zeros(())
    ratio = normalised_spectrum(part).clamp_min(SPECTRUM_FLOOR) / normalised_spectrum(noise).clamp_min(SPECTRUM_FLOOR)
    return ratio.log().pow(2).mean()


def ragan_generator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Relativistic average GAN loss for the generator (real logits detached)."""
    real_logits = real_logits.detach()
    real_rel = real_logits - fake_logits.mean()
    fake_rel = fake_logits - real_logits.mean()
    return 0.5 * (
        F.binary_cross_entropy_with_logits(real_rel, torch.zeros_like(real_rel))
        + F.binary_cross_entropy_with_logits(fake_rel, torch.ones_like(fake_rel))
    )


def ragan_discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    real_rel = real_logits - fake_logits.mean()
    fake_rel = fake_logits - real_logits.mean()
    return 0.5 * (
        F.binary_cross_entropy_with_logits(real_rel, torch.ones_like(real_rel))
        + F.binary_cross_entropy_with_logits(fake_rel, torch.zeros_like(fake_rel))
    )


class SeNMObjective:
    """Computes the training loss of a :class:`SeNMVAE` on a mixed-domain batch."""

    def __init__(
        self,
        cfg: ObjectiveConfig | None = None,
        perceptual: nn.Module | None = None,
        discriminator: nn.Module | None = None,
    ):
        self.cfg = cfg or ObjectiveConfig()
        self.perceptual = perceptual
        self.discriminator = discriminator

    def conditioning_level(
        self,
        model: SeNMVAE,
        clean: torch.Tensor,
        noisy: torch.Tensor,
        domain: torch.Tensor,
        image_level: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(level per row, L1 loss of the level predictor on paired rows). A paired row's level is
        its ``image_level`` (the noise std of its whole image) when given, else its crop's."""
        has_noisy = domain != Domain.SOURCE
        paired = domain == Domain.PAIRED
        measured = noise_level(noisy, clean) if image_level is None else image_level.to(clean.dtype)
        true = torch.where(paired, measured, torch.zeros_like(clean[:, 0, 0, 0]))
        level = true.clone()
        level_loss = clean.new_zeros(())
        if model.level_predictor is None:
            if bool((domain == Domain.TARGET).any()):
                raise ValueError("noisy-only samples need a model with a noise-level predictor")
            return level, level_loss
        rows = torch.nonzero(has_noisy).flatten()
        if len(rows):
            predicted = model.level_predictor(noisy[rows])
            level = level.index_put((rows,), torch.where(paired[rows], true[rows], predicted))
            level_loss = _mean((predicted - true[rows]).abs()[paired[rows]])
        return level, level_loss

    def __call__(
        self,
        model: SeNMVAE,
        batch: dict[str, torch.Tensor],
        step: int,
        generator: torch.Generator | None = None,
    ) -> ObjectiveOutput:
        cfg = self.cfg
        clean, noisy, domain = batch["clean"], batch["noisy"], batch["domain"]
        level, level_loss = self.conditioning_level(model, clean, noisy, domain, batch.get("level"))
        pixel_head = model.pixel_noise if cfg.pixel_noise_weight else None
        out = model(
            clean, noisy, domain, level, p_clean=cfg.p_clean, generator=generator,
            decode_without_zn=bool(cfg.noise_residual_weight or cfg.zn_spectrum_weight) or pixel_head is not None,
        )  # fmt: skip

        rec_clean_rows = (out.recon_clean - clean[out.clean_rows]).pow(2).flatten(1).mean(1)
        rec_noisy_rows = (out.recon_noisy - noisy[out.noisy_rows]).pow(2).flatten(1).mean(1)
        kl_zn_rows = torch.stack(out.kl_zn).sum(0) if out.kl_zn else noisy.new_zeros(0)
        kl_z_rows = torch.stack(out.kl_z).sum(0) if len(out.paired_rows) else noisy.new_zeros(0)

        kl_scale = cfg.kl_scale(step)
        w_zn = cfg.kl_zn_weight * kl_scale
        w_z = w_zn * cfg.kl_z_lambda
        terms = {
            "rec_clean": _mean(rec_clean_rows),
            "rec_noisy": _mean(rec_noisy_rows),
            "kl_zn": _mean(kl_zn_rows),
            "kl_z": _mean(kl_z_rows),
            "level_l1": level_loss,
        }
        loss = (
            cfg.rec_clean_weight * terms["rec_clean"]
            + terms["rec_noisy"]
            + w_zn * terms["kl_zn"]
            + w_z * terms["kl_z"]
            + cfg.level_weight * level_loss
        )
        if out.recon_noisy_without_zn is not None:
            paired = out.paired_rows
            added = out.recon_noisy[: len(paired)] - out.recon_noisy_without_zn
            terms["noise_residual"] = (added - (noisy[paired] - clean[paired])).pow(2).mean()
            if cfg.noise_residual_weight:
                loss = loss + cfg.noise_residual_weight * terms["noise_residual"]
            terms["zn_spectrum"] = spectrum_gap(added, noisy[paired] - clean[paired])
            if cfg.zn_spectrum_weight:
                loss = loss + cfg.zn_spectrum_weight * terms["zn_spectrum"]
            if pixel_head is not None:
                terms["pixel_nll"], terms["pixel_calibration"] = self._pixel_terms(
                    pixel_head, clean[paired], noisy[paired] - clean[paired], added.detach(), level[paired]
                )
                loss = loss + cfg.pixel_noise_weight * (terms["pixel_nll"] + terms["pixel_calibration"])
        real_noisy = noisy[out.noisy_rows]
        adversarial = step >= cfg.adversarial_start_step and len(out.noisy_rows)
        if self.perceptual is not None and cfg.perceptual_weight and adversarial:
            terms["perceptual"] = self.perceptual(out.recon_noisy, real_noisy).mean()
            loss = loss + cfg.perceptual_weight * terms["perceptual"]
        if self.discriminator is not None and cfg.gan_weight and adversarial:
            terms["gan_generator"] = ragan_generator_loss(
                self.discriminator(real_noisy), self.discriminator(out.recon_noisy)
            )
            loss = loss + cfg.gan_weight * terms["gan_generator"]

        terms.update(self._domain_losses(out, domain, rec_clean_rows, rec_noisy_rows, kl_zn_rows, kl_z_rows, w_zn, w_z))
        terms["kl_weight"] = torch.tensor(w_zn)
        return ObjectiveOutput(
            loss=loss,
            terms=terms,
            kl_z_per_level=[_mean(k) for k in out.kl_z],
            kl_zn_per_level=[_mean(k) for k in out.kl_zn] if out.kl_zn else [noisy.new_zeros(()) for _ in out.kl_z],
            forward=out,
            level=level,
        )

    @staticmethod
    def _pixel_terms(head: nn.Module, clean, noise, zn_part, level) -> tuple[torch.Tensor, torch.Tensor]:
        """The real noise as s * u, u the head's unit-variance field and s^2 = sigma^2 + zn_part^2
        per pixel (its exact likelihood): the head learns the variance that, with what zn adds,
        makes the real noise's, and the field its correlation; then each crop's mean s^2 against
        the real noise's mean square (the level's calibration)."""
        pixel = head(clean, level)
        log_variance = torch.logaddexp(2 * pixel.log_sigma, zn_part.pow(2).clamp_min(1e-12).log())
        nll = PixelNoise(0.5 * log_variance, pixel.kernel, pixel.white).nll(noise).mean()
        predicted = log_variance.exp().flatten(1).mean(1)
        actual = noise.pow(2).flatten(1).mean(1).clamp_min(LEVEL_FLOOR**2)
        return nll, (predicted.log() - actual.log()).pow(2).mean()

    @staticmethod
    def _domain_losses(out, domain, rec_clean, rec_noisy, kl_zn, kl_z, w_zn, w_z) -> dict[str, torch.Tensor]:
        """Loss_p, Loss_s, Loss_t of eq. 11 as per-sample means, for monitoring the three domains."""
        b = len(domain)
        per_row = rec_clean.new_zeros(b)
        per_row = per_row.index_add(0, out.clean_rows, rec_clean.detach())
        per_row = per_row.index_add(0, out.noisy_rows, (rec_noisy + w_zn * kl_zn).detach())
        per_row = per_row.index_add(0, out.paired_rows, (w_z * kl_z).detach())
        return {
            f"loss_{name}": _mean(per_row[domain == d])
            for name, d in (("paired", Domain.PAIRED), ("source", Domain.SOURCE), ("target", Domain.TARGET))
        }

    def discriminator_loss(self, real_noisy: torch.Tensor, fake_noisy: torch.Tensor) -> torch.Tensor:
        if self.discriminator is None:
            raise RuntimeError("no discriminator configured")
        return ragan_discriminator_loss(self.discriminator(real_noisy), self.discriminator(fake_noisy.detach()))
