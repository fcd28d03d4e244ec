"""The Trainer: optimizers, schedules, EMA, the update guards, and one training step.

One step (the official recipe, docs/training.md):

1. the VAE + level predictor update: objective (discriminator frozen), backward, gradient
   norm over the VAE parameters clipped at ``optim.grad_clip``; the update is skipped (and
   counted) when the loss or the gradient is not finite, or when the norm reaches
   ``optim.skip_grad_norm``;
2. the discriminator update with the relativistic average GAN loss on the noisy
   reconstructions of step 1 (skipped and counted when not finite);
3. both step schedules advance, the EMA follows the weights.

Model-side randomness (posterior samples, the mixture posterior's choice) comes from a
generator seeded by (seed, step, shard), where a shard is one process's micro-batch, so a
step's result depends only on the weights and the step: resume needs no generator state, and
N processes compute what one process computes with N micro-batches.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections import defaultdict

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.lr_scheduler import LambdaLR, LRScheduler, MultiStepLR
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from senmvae.model.discriminator import PatchDiscriminator
from senmvae.model.network import SeNMVAE
from senmvae.model.objective import ObjectiveOutput, SeNMObjective
from senmvae.model.pixel_noise import widen_colouring
from senmvae.train.config import TrainConfig

COLOUR_KEY = "pixel_noise.colour"  # the pixel-noise head's colouring kernel in a model's state


class GeneratorLoss(nn.Module):
    """The VAE + level predictor objective as one module, so that DDP can wrap the whole pass.

    The objective's perceptual network and discriminator are not submodules here: they are
    frozen during this pass and never synchronised by this wrapper.
    """

    def __init__(self, model: SeNMVAE, objective: SeNMObjective):
        super().__init__()
        self.model = model
        self.objective = objective

    def forward(
        self, batch: dict[str, torch.Tensor], step: int, generator: torch.Generator
    ) -> tuple[torch.Tensor, ObjectiveOutput]:
        out = self.objective(self.model, batch, step, generator)
        return out.loss, out


class DiscriminatorLoss(nn.Module):
    """Both discriminator passes (real and fake) of the RaGAN loss in one forward, for DDP."""

    def __init__(self, objective: SeNMObjective):
        super().__init__()
        self.discriminator = objective.discriminator
        self.objective = objective

    def forward(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        return self.objective.discriminator_loss(real, fake)


def shard_seed(seed: int, step: int, shard: int) -> int:
    return int(np.random.SeedSequence(seed, spawn_key=(step, shard)).generate_state(1, np.uint64)[0])


def mean_statistics(parts: list[dict[str, float]]) -> dict[str, float]:
    """Per key, the mean over the parts that report it (a term is absent when no row has it)."""
    sums: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    for part in parts:
        for key, value in part.items():
            sums[key] += value
            counts[key] += 1
    return {key: sums[key] / counts[key] for key in sums}


class Trainer:
    """Owns the networks, optimizers, schedules and EMA of one run, and takes training steps.

    ``perceptual``: the frozen perceptual distance on the noisy reconstruction, or None.
    ``rank``/``world_size``: this process in a distributed run (an initialised process group
    is needed when ``world_size > 1``); ``batch`` given to :meth:`training_step` is then this
    process's slice of the global batch.
    """

    def __init__(
        self,
        cfg: TrainConfig,
        device: str | torch.device = "cpu",
        perceptual: nn.Module | None = None,
        rank: int = 0,
        world_size: int = 1,
    ):
        self.cfg = cfg
        self.device = torch.device(device)
        self.rank, self.world_size = rank, world_size
        torch.manual_seed(cfg.seed)  # the same initial weights in every process
        self.model = SeNMVAE(cfg.model).to(self.device)
        self.discriminator = (
            PatchDiscriminator(cfg.model.in_channels, cfg.discriminator).to(self.device)
            if cfg.objective.gan_weight
            else None
        )
        if perceptual is not None:
            perceptual = perceptual.to(self.device).eval().requires_grad_(False)
        self.objective = SeNMObjective(cfg.objective, perceptual, self.discriminator)
        self._vae_parameters = [p for n, p in self.model.named_parameters() if not n.startswith("level_predictor.")]

        opt = cfg.optim
        # Share of the time budget (schedule.max_minutes) used so far; the run loop sets it.
        self.time_progress = 0.0
        self.optimizer = torch.optim.Adam(self._parameter_groups(), lr=opt.lr, betas=tuple(opt.betas))
        self.scheduler = self._lr_scheduler(self.optimizer)
        self.discriminator_optimizer = self.discriminator_scheduler = None
        if self.discriminator is not None:
            self.discriminator_optimizer = torch.optim.Adam(
                self.discriminator.parameters(), lr=opt.discriminator_lr, betas=tuple(opt.discriminator_betas)
            )
            self.discriminator_scheduler = self._lr_scheduler(self.discriminator_optimizer)
        self.ema = (
            AveragedModel(self.model, multi_avg_fn=get_ema_multi_avg_fn(opt.ema_decay))
            if opt.ema_decay is not None
            else None
        )

        self.step = 0
        self.skipped = {"grad_norm": 0, "nonfinite": 0, "discriminator": 0}
        self.best: dict | None = None  # {"metric", "value", "step"} of the best validation so far

        self._generator_loss: nn.Module = GeneratorLoss(self.model, self.objective)
        self._discriminator_loss: nn.Module | None = (
            DiscriminatorLoss(self.objective) if self.discriminator is not None else None
        )
        if world_size > 1:
            device_ids = [self.device.index] if self.device.type == "cuda" else None
            # The forward routes rows by domain: a process whose slice lacks a domain leaves
            # that domain's heads unused.
            self._generator_loss = DistributedDataParallel(
                self._generator_loss, device_ids=device_ids, find_unused_parameters=True
            )
            if self._discriminator_loss is not None:
                self._discriminator_loss = DistributedDataParallel(self._discriminator_loss, device_ids=device_ids)
        self._generator = torch.Generator(device=self.device)

    # ------------------------------------------------------------------ helpers
    def _parameter_groups(self) -> list[dict]:
        """One group, or two when the pixel-noise head has its own rate (``optim.pixel_noise_lr``;
        at 0 Adam's update of the head is exactly zero), or three when its colouring has one too
        (``optim.pixel_noise_colour_lr``)."""
        head_rate, colour_rate = self.cfg.optim.pixel_noise_lr, self.cfg.optim.pixel_noise_colour_lr
        if self.model.pixel_noise is None or (head_rate is None and colour_rate is None):
            return [{"params": list(self.model.parameters())}]

        def group(params: list[torch.nn.Parameter], rate: float | None) -> dict:
            return {"params": params} if rate is None else {"params": params, "lr": rate}

        head = {id(p) for p in self.model.pixel_noise.parameters()}
        colouring = self.model.pixel_noise.colouring_parameters() if colour_rate is not None else []
        rest_of_head = head - {id(p) for p in colouring}
        groups = [
            group([p for p in self.model.parameters() if id(p) not in head], None),
            group([p for p in self.model.parameters() if id(p) in rest_of_head], head_rate),
        ]
        if colour_rate is not None:
            groups.append(group(colouring, colour_rate))
        return groups

    def _lr_scheduler(self, optimizer: torch.optim.Optimizer) -> LRScheduler:
        sched = self.cfg.schedule
        if sched.lr_schedule == "multistep":
            return MultiStepLR(optimizer, list(sched.milestones), sched.gamma)
        return LambdaLR(optimizer, self.lr_factor)

    def lr_factor(self, step: int) -> float:
        """The cosine schedule's multiplier of the base rate for ``step`` (0-based): warm-up,
        then a cosine over the run's progress, the larger of its step and time shares."""
        sched = self.cfg.schedule
        warm = min(1.0, (step + 1) / sched.warmup_steps) if sched.warmup_steps else 1.0
        progress = min(1.0, max(step / sched.steps, self.time_progress))
        floor = sched.final_lr_fraction
        return warm * (floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress)))

    def initialise_output_bias(self, mean: torch.Tensor) -> None:
        """Start the decoder's last bias at the per-channel mean intensity ``mean`` (C,)."""
        with torch.no_grad():
            self.model.output[-1].bias.copy_(mean.to(self.model.output[-1].bias))
        if self.ema is not None:
            self.ema.module.load_state_dict(self.model.state_dict())

    def initialise_weights(self, model: SeNMVAE) -> None:
        """Start from the weights of ``model`` (same sizes; fine-tuning). A pixel-noise head
        or noise-level predictor that ``model`` lacks keeps its fresh initialisation; a colouring
        kernel smaller than this run's is widened with zero taps."""
        state = model.state_dict()
        colour = self.model.state_dict().get(COLOUR_KEY)
        if colour is not None and COLOUR_KEY in state and state[COLOUR_KEY].shape != colour.shape:
            state[COLOUR_KEY] = widen_colouring(state[COLOUR_KEY], colour.shape[-1])
        missing, unexpected = self.model.load_state_dict(state, strict=False)
        fresh = [k for k in missing if not k.startswith(("pixel_noise.", "level_predictor."))]
        if fresh or unexpected:
            raise ValueError(
                f"the initial model does not fit this run's model: missing {fresh}, unexpected {unexpected}"
            )
        if self.ema is not None:
            self.ema.module.load_state_dict(self.model.state_dict())

    @property
    def updates(self) -> int:
        """Steps whose update was applied; the others were skipped (a loss or gradient that was not
        finite, or a gradient norm at ``optim.skip_grad_norm``) and left the weights as they were."""
        return self.step - self.skipped["nonfinite"] - self.skipped["grad_norm"]

    @property
    def export_model(self) -> SeNMVAE:
        """The weights to evaluate and publish: the EMA when it is on."""
        return self.ema.module if self.ema is not None else self.model

    def _autocast(self):
        enabled = self.cfg.optim.amp and self.device.type == "cuda"
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=enabled)

    def _sync_unless_last(self, module: nn.Module, last: bool):
        if isinstance(module, DistributedDataParallel) and not last:
            return module.no_sync()
        return contextlib.nullcontext()

    def any_process(self, flag: bool) -> bool:
        if self.world_size == 1:
            return flag
        t = torch.tensor([float(flag)], device=self.device)
        torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
        return bool(t.item())

    def _micro_batches(self, batch: dict[str, torch.Tensor]) -> list[dict[str, torch.Tensor]]:
        n = self.cfg.optim.micro_batches
        rows = len(batch["domain"])
        if rows % n:
            raise ValueError(f"a batch of {rows} rows cannot be split into {n} micro-batches")
        chunks = {k: v.to(self.device, non_blocking=True).chunk(n) for k, v in batch.items()}
        return [{k: v[i] for k, v in chunks.items()} for i in range(n)]

    # ------------------------------------------------------------------ one step
    def training_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One update of both networks; returns every objective term, per-level KL, the
        gradient norm, the skip flags (0/1) of this step and the learning rates used."""
        cfg = self.cfg.optim
        chunks = self._micro_batches(batch)
        n = len(chunks)
        lr, lr_d = self.scheduler.get_last_lr()[0], None
        parts: list[dict[str, float]] = []
        fakes: list[tuple[torch.Tensor, torch.Tensor]] = []
        finite = True

        self.model.train()
        if self.discriminator is not None:
            self.discriminator.train().requires_grad_(False)
            # Batch-norm statistics move in every pass, even on non-finite input.
            buffers = [b.clone() for b in self.discriminator.buffers()]
        self.optimizer.zero_grad(set_to_none=True)
        for k, chunk in enumerate(chunks):
            self._generator.manual_seed(shard_seed(self.cfg.seed, self.step, self.rank * n + k))
            with self._sync_unless_last(self._generator_loss, k == n - 1):
                with self._autocast():
                    loss, out = self._generator_loss(chunk, self.step, self._generator)
                (loss / n).backward()
            finite &= bool(torch.isfinite(loss))
            parts.append(out.statistics())
            rows = out.forward.noisy_rows
            fakes.append((chunk["noisy"][rows], out.forward.recon_noisy.detach()))

        grad_norm = float(nn.utils.clip_grad_norm_(self._vae_parameters, cfg.grad_clip))
        nonfinite = self.any_process(not finite) or not math.isfinite(grad_norm)
        too_large = not nonfinite and cfg.skip_grad_norm is not None and grad_norm >= cfg.skip_grad_norm
        if nonfinite or too_large:
            self.optimizer.zero_grad(set_to_none=True)
            self.skipped["nonfinite" if nonfinite else "grad_norm"] += 1
        else:
            self.optimizer.step()
            if self.ema is not None:
                self.ema.update_parameters(self.model)

        stats = mean_statistics(parts)
        if self.discriminator is not None:
            lr_d = self.discriminator_scheduler.get_last_lr()[0]
            stats.update(self._discriminator_step(fakes, chunks))
            if stats.get("skipped_discriminator"):
                for saved, current in zip(buffers, self.discriminator.buffers()):
                    current.copy_(saved)
        with warnings.catch_warnings():
            # The schedules count steps, taken or skipped; torch warns when the first one is skipped.
            warnings.filterwarnings("ignore", message="Detected call of `lr_scheduler.step", category=UserWarning)
            self.scheduler.step()
            if self.discriminator_scheduler is not None:
                self.discriminator_scheduler.step()
        self.step += 1

        stats.update(
            grad_norm=grad_norm,
            skipped_nonfinite=float(nonfinite),
            skipped_grad_norm=float(too_large),
            lr=lr,
        )
        if lr_d is not None:
            stats["lr_discriminator"] = lr_d
        return stats

    def _discriminator_step(
        self, fakes: list[tuple[torch.Tensor, torch.Tensor]], chunks: list[dict[str, torch.Tensor]]
    ) -> dict[str, float]:
        self.discriminator.requires_grad_(True)
        self.discriminator_optimizer.zero_grad(set_to_none=True)
        n = len(fakes)
        losses = []
        finite = True
        for k, (real, fake) in enumerate(fakes):
            if len(real):
                weight = 1.0
            elif self.world_size > 1:
                # No noisy image in this slice: join the gradient all-reduce with a zero loss.
                real = fake = chunks[k]["noisy"]
                weight = 0.0
            else:
                continue
            with self._sync_unless_last(self._discriminator_loss, k == n - 1):
                with self._autocast():
                    loss = self._discriminator_loss(real, fake)
                (weight * loss / n).backward()
            if weight:
                losses.append(float(loss.detach()))
                finite &= math.isfinite(losses[-1])
        if not self.any_process(bool(losses)):  # no noisy image in the whole batch
            self.discriminator_optimizer.zero_grad(set_to_none=True)
            return {}
        grad_norm = float(nn.utils.clip_grad_norm_(self.discriminator.parameters(), math.inf))
        skipped = self.any_process(not finite) or not math.isfinite(grad_norm)
        if skipped:
            self.discriminator_optimizer.zero_grad(set_to_none=True)
            self.skipped["discriminator"] += 1
        else:
            self.discriminator_optimizer.step()
        stats = {"grad_norm_discriminator": grad_norm, "skipped_discriminator": float(skipped)}
        if losses:
            stats["discriminator_loss"] = sum(losses) / len(losses)
        return stats

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        """Everything a resumed run needs (tensors, numbers, strings, dicts: ``weights_only`` loads it)."""

        def state(obj):
            return obj.state_dict() if obj is not None else None

        return {
            "step": self.step,
            "model": state(self.model),
            "optimizer": state(self.optimizer),
            "scheduler": state(self.scheduler),
            "discriminator": state(self.discriminator),
            "discriminator_optimizer": state(self.discriminator_optimizer),
            "discriminator_scheduler": state(self.discriminator_scheduler),
            "ema": state(self.ema),
            "skipped": dict(self.skipped),
            "best": dict(self.best) if self.best else None,
            "rng": {
                "torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            },
        }

    def load_state_dict(self, state: dict) -> None:
        parts = (
            "model",
            "optimizer",
            "scheduler",
            "discriminator",
            "discriminator_optimizer",
            "discriminator_scheduler",
            "ema",
        )
        for name in parts:
            target = getattr(self, name)
            if (target is None) != (state[name] is None):
                raise ValueError(f"checkpoint and config disagree on whether the run has a {name.replace('_', ' ')}")
            if target is not None:
                target.load_state_dict(state[name])
        self.step = int(state["step"])
        self.skipped = dict(state["skipped"])
        self.best = state["best"]
        torch.set_rng_state(state["rng"]["torch"])
        if state["rng"]["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])
