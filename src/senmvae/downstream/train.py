"""Training the downstream DnCNN on crops from any source (real, synthesized or mixed)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch.nn import functional as F

from senmvae.downstream.crops import CropSource
from senmvae.downstream.dncnn import DnCNN, DnCNNConfig
from senmvae.downstream.nafnet import NAFNet
from senmvae.progress import progress_bar


@dataclass
class TrainingHistory:
    """Loss and learning rate at every logged step; steps, wall-clock and CPU seconds of the whole run.

    ``cpu_s`` (process CPU time, all threads) is the steadier cost measure on a shared machine.
    """

    step: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    steps: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    stopped_by_time: bool = False


def lr_factor(config: DnCNNConfig, progress: float, step: int) -> float:
    """Multiplier of ``config.lr`` at ``step``, ``progress`` in [0, 1] being the budget used."""
    warm = min(1.0, (step + 1) / config.warmup_steps) if config.warmup_steps else 1.0
    if config.lr_schedule == "cosine":
        floor = config.lr_min_ratio
        decay = floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))
    elif config.lr_schedule == "step":
        decay = 0.5 ** sum(progress >= mark for mark in (0.5, 0.75, 0.9))
    else:
        decay = 1.0
    return warm * decay


def run_schedule(
    config,
    optimizer: torch.optim.Optimizer,
    train_step: Callable[[int], torch.Tensor],
    *,
    desc: str,
    log_every: int,
    progress: bool,
) -> TrainingHistory:
    """Run ``train_step(step)`` (which returns that step's loss) for ``config.steps`` steps or until
    ``config.time_budget_s`` runs out, first setting ``optimizer``'s learning rate to
    ``config.lr * lr_factor``: the schedule runs over the step budget, or over the time budget
    when that runs out first. Every ``log_every`` steps and at the last one the loss and rate are
    logged; a progress bar shows them. ``config``: a :class:`DnCNNConfig` or an SR training config
    (any with ``steps``, ``time_budget_s``, ``lr`` and the schedule fields of :func:`lr_factor`)."""
    history = TrainingHistory()
    start, cpu_start = time.perf_counter(), time.process_time()
    bar = progress_bar(range(config.steps), desc=desc, unit="step", disable=not progress, leave=False)
    for step in bar:
        elapsed = time.perf_counter() - start
        if config.time_budget_s is not None and elapsed >= config.time_budget_s:
            history.stopped_by_time = True
            break
        used = step / config.steps
        if config.time_budget_s:
            used = max(used, elapsed / config.time_budget_s)
        lr = config.lr * lr_factor(config, used, step)
        for group in optimizer.param_groups:
            group["lr"] = lr
        loss = train_step(step)
        history.steps = step + 1
        if step % log_every == 0 or step == config.steps - 1:
            history.step.append(step)
            history.loss.append(loss.item())
            history.lr.append(lr)
            bar.set_postfix(loss=f"{history.loss[-1]:.3e}")
    history.wall_s = time.perf_counter() - start
    history.cpu_s = time.process_time() - cpu_start
    return history


def train_denoiser(
    config: DnCNNConfig,
    crops: CropSource,
    *,
    model: DnCNN | NAFNet | None = None,
    log_every: int = 25,
    progress: bool = True,
) -> tuple[DnCNN | NAFNet, TrainingHistory]:
    """Train a DnCNN (or the NAFNet ``config.network`` names) with Adam on MSE for ``config.steps``
    batches from ``crops``.

    ``crops(batch_size, crop, generator)`` returns ``(noisy, clean)`` batches; its generator
    is seeded from ``config.seed``, like the weights, so a run is reproducible. The learning
    rate schedule runs over the step budget, or over ``time_budget_s`` when that runs out first.
    ``model`` continues training a given network (built from ``config`` otherwise).
    """
    torch.manual_seed(config.seed)
    if model is None:
        model = NAFNet(config) if config.network == "nafnet" else DnCNN(config)
    generator = torch.Generator().manual_seed(config.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, betas=tuple(config.adam_betas))

    def train_step(step: int) -> torch.Tensor:
        noisy, clean = crops(config.batch_size, config.crop, generator)
        loss = F.mse_loss(model(noisy), clean)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss

    model.train()
    history = run_schedule(config, optimizer, train_step, desc="denoiser", log_every=log_every, progress=progress)
    model.eval()
    return model, history


def affordable_steps(config: DnCNNConfig, crops: CropSource, seconds: float, denoisers: int, probe: int = 10) -> int:
    """The steps each of ``denoisers`` DnCNNs of ``config`` can train within ``seconds`` in all:
    ``config.steps``, or fewer when the time per step (measured by ``probe`` steps of a throwaway
    network on ``crops``) does not allow that many; at least 1.

    Crops cut from pairs made up front cost the same whatever noise model made them, so one
    measurement serves every denoiser of a comparison and each can train the same steps.
    """
    _, history = train_denoiser(config.replace(steps=probe, time_budget_s=None), crops, progress=False)
    per_step = history.wall_s / max(history.steps, 1)
    return max(1, min(config.steps, int(seconds / (denoisers * per_step))))
