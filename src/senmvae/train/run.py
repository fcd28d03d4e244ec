"""A training run in a folder: start it, resume it, and the loop that logs, validates and checkpoints.

Run folder::

    config.yaml                      resolved configuration
    metrics.jsonl                    one JSON object per line: kind "train" (means over
                                     logging.every steps) or "validation"
    tb/                              TensorBoard event files (when tensorboard is installed)
    checkpoints/step_XXXXXXX.pt      the last checkpoint.keep_last checkpoints
    checkpoints/best.pt              the checkpoint with the best validation.best_metric
    validation/step_XXXXXXX.png      validation grids
    model.safetensors                the weights to generate with (EMA when on), updated at
                                     every checkpoint and at the end

Under ``torchrun`` every process runs :func:`start_run` / :func:`resume_run`; only rank 0
writes to the folder.
"""

from __future__ import annotations

import itertools
import math
import os
import time
from pathlib import Path

import torch
import yaml
from torch.utils.data import DataLoader
from tqdm import tqdm

from senmvae.atomic import write_text_atomic
from senmvae.data import MixedDomainDataset, SemiSupervisedSet, StepBatchSampler, build_split, load_spec, validate
from senmvae.data.io import write_image
from senmvae.device import resolve_device
from senmvae.errors import UserError
from senmvae.model.io import MODEL_FILE, load_model, resolve_model_path, save_model, trained_level
from senmvae.model.network import SeNMVAE
from senmvae.progress import progress_bar
from senmvae.train.checkpoint import (
    BEST_NAME,
    checkpoint_dir,
    latest_checkpoint,
    prune_checkpoints,
    save_checkpoint,
    step_checkpoints,
    step_path,
)
from senmvae.train.config import BEST_METRICS, TrainConfig
from senmvae.train.distributed import Process, end_process, start_process
from senmvae.train.run_log import MetricsLog
from senmvae.train.trainer import Trainer, mean_statistics
from senmvae.train.validation import ValidationSet, evaluate, load_validation_set

CONFIG_NAME = "config.yaml"
PROGRESS_KEYS = ("loss", "rec_noisy", "kl_zn", "discriminator_loss")


def _write_config(cfg: TrainConfig, run_dir: Path) -> None:
    write_text_atomic(run_dir / CONFIG_NAME, yaml.safe_dump(cfg.to_dict(), sort_keys=False))


def _process_for(cfg: TrainConfig) -> tuple[Process, torch.device]:
    device = resolve_device(cfg.device, int(os.environ.get("LOCAL_RANK", "0")))
    return start_process(device), device


def initial_model(cfg: TrainConfig) -> tuple[TrainConfig, SeNMVAE | None]:
    """The model that ``init.weights`` names (None when training from scratch), and ``cfg``
    with that model's sizes, so that fine-tuning needs no matching preset. A model without a
    noise-level predictor (an official checkpoint) gets a fresh one of ``model.level_predictor``
    (learned on the paired samples; null: none, then noisy-only samples are off). A pixel-noise head
    that starts fresh, in whole or in part (no initial model, one without a head, or a white
    head given the run's colouring kernel ``model.pixel_noise.kernel``), learns
    at ``optim.lr`` even when ``optim.pixel_noise_lr`` (or ``pixel_noise_colour_lr``) is 0, which keeps
    only a pretrained head. A coloured head given a larger kernel keeps its colouring, widened with
    zero taps (:func:`~senmvae.model.pixel_noise.widen_colouring`). An unset ``data.level``
    becomes the level the initial model was trained on (``crop`` without one)."""
    path = resolve_model_path(cfg.init.weights) if cfg.init.weights is not None else None
    model = load_model(path, "cpu") if path is not None else None
    if cfg.data.level is None:
        cfg = cfg.merged({"data": {"level": trained_level(path) if path is not None else "crop"}})
    fresh_head = model is None
    if model is not None:
        sizes = model.config
        wanted = cfg.model.pixel_noise
        if sizes.pixel_noise is None and wanted is not None:
            sizes = sizes.replace(pixel_noise=wanted)  # a new head, learned from scratch
            fresh_head = True
        elif sizes.pixel_noise is not None and wanted is not None and sizes.pixel_noise.kernel < wanted.kernel:
            # a white head given a colouring kernel: the kernel is new; a smaller kernel is
            # widened with zero taps (the same field) and learns on from there
            fresh_head = sizes.pixel_noise.kernel == 1
            sizes = sizes.replace(pixel_noise=sizes.pixel_noise.replace(kernel=wanted.kernel))
        if sizes.level_predictor is None and cfg.model.level_predictor is not None:
            sizes = sizes.replace(level_predictor=cfg.model.level_predictor)
        if cfg.model != sizes:
            cfg = cfg.merged({"model": sizes.to_dict()})
    for rate in ("pixel_noise_lr", "pixel_noise_colour_lr"):
        if getattr(cfg.optim, rate) == 0 and fresh_head:
            cfg = cfg.merged({"optim": {rate: None}})
    return cfg, model


def start_run(cfg: TrainConfig, run_dir: str | Path) -> Trainer:
    """Train a new run into ``run_dir`` (absent or empty)."""
    run_dir = Path(run_dir)
    cfg, init = initial_model(cfg)
    process, device = _process_for(cfg)
    try:
        # A folder holding only the config of a start that failed before training may be reused.
        if run_dir.exists() and any(p.name != CONFIG_NAME for p in run_dir.iterdir()):
            raise UserError(
                f"{run_dir} already holds files; continue that run with --resume {run_dir} or pick another --out"
            )
        process.barrier()  # every process checked before the main one writes
        if process.is_main:
            run_dir.mkdir(parents=True, exist_ok=True)
            _write_config(cfg, run_dir)
        return _train(cfg, run_dir, None, process, device, init)
    finally:
        end_process(process)


def resume_run(run_dir: str | Path, overrides: list[str] | None = None) -> Trainer:
    """Continue the run in ``run_dir`` from its newest readable checkpoint (or from the start
    when it was stopped before the first one), with ``key=value`` overrides such as a longer
    ``schedule.steps``."""
    run_dir = Path(run_dir)
    checkpoint = latest_checkpoint(run_dir)
    if checkpoint is None and (step_checkpoints(run_dir) or (run_dir / MODEL_FILE).is_file()):
        raise UserError(
            f"{run_dir}: none of its checkpoints can be read (see the warnings above), so it cannot be resumed; "
            f"its {MODEL_FILE} is left as it is. To train again from the start, use a new --out folder"
        )
    if checkpoint is not None:
        cfg = TrainConfig.from_dict(checkpoint["config"])
    elif (run_dir / CONFIG_NAME).is_file():
        cfg = TrainConfig.from_yaml(run_dir / CONFIG_NAME)
    else:
        raise UserError(f"{run_dir} holds no run to resume (no {CONFIG_NAME}, no checkpoints); start one with --out")
    cfg = cfg.with_overrides(list(overrides or []))
    init = initial_model(cfg)[1] if checkpoint is None else None  # stopped before its first checkpoint
    process, device = _process_for(cfg)
    try:
        if process.is_main and overrides:
            _write_config(cfg, run_dir)
        return _train(cfg, run_dir, checkpoint, process, device, init)
    finally:
        end_process(process)


def load_training_set(cfg: TrainConfig, progress: bool = True) -> SemiSupervisedSet:
    """The dataset of ``data.spec``, split when ``data.paired`` is set, checked for bad files."""
    dataset = load_spec(cfg.data.spec)
    if cfg.data.paired is not None:
        dataset = build_split(dataset, cfg.data.paired, seed=cfg.seed, validation=cfg.data.validation_fraction).dataset
    return validate(dataset, cfg.data.crop, progress=progress).dataset


def training_domains(cfg: TrainConfig, dataset: SemiSupervisedSet) -> MixedDomainDataset:
    """The crops a run trains on: ``dataset``'s domains mixed by ``data.frequencies``, each paired
    crop conditioned on the level ``data.level`` names."""
    return MixedDomainDataset(
        dataset, cfg.data.crop, cfg.data.frequencies, cfg.seed, image_levels=cfg.data.level == "image"
    )


def mean_intensity(dataset: SemiSupervisedSet, limit: int = 64) -> torch.Tensor:
    """Per-channel mean of (up to ``limit``) clean training images, noisy ones where there are none."""
    refs = [pair.clean for pair in dataset.paired] + list(dataset.source)
    refs = refs or [pair.noisy for pair in dataset.paired] + list(dataset.target)
    step = max(1, len(refs) // limit)
    means = [torch.from_numpy(ref.load()).float().mean((0, 1)) for ref in refs[::step][:limit]]
    return torch.stack(means).mean(0)


def initialise(trainer: Trainer, dataset: SemiSupervisedSet, init: SeNMVAE | None) -> None:
    """A new run's starting weights: ``init``'s when fine-tuning, else the preset's own
    initialisation, with the output bias from ``dataset`` when ``init.output_bias`` says so."""
    if init is not None:
        trainer.initialise_weights(init)
    elif trainer.cfg.init.output_bias == "data":
        trainer.initialise_output_bias(mean_intensity(dataset))


def build_perceptual(cfg: TrainConfig) -> torch.nn.Module | None:
    if cfg.perceptual.kind == "none" or not cfg.objective.perceptual_weight:
        return None
    from senmvae.features.perceptual import build_perceptual_loss

    return build_perceptual_loss(
        cfg.perceptual.kind,
        lpips_backbone_path=cfg.perceptual.lpips_backbone,
        lpips_linear_path=cfg.perceptual.lpips_linear,
    )


def _configure_determinism(cfg: TrainConfig, device: torch.device) -> None:
    if cfg.deterministic and device.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(cfg.deterministic)
    torch.backends.cudnn.benchmark = not cfg.deterministic


def _train(
    cfg: TrainConfig,
    run_dir: Path,
    checkpoint: dict | None,
    process: Process,
    device: torch.device,
    init: SeNMVAE | None,
) -> Trainer:
    _configure_determinism(cfg, device)
    main = process.is_main
    show = main and cfg.logging.progress
    dataset = load_training_set(cfg, progress=show)
    if cfg.data.batch_size % (process.world_size * cfg.optim.micro_batches):
        raise UserError(
            f"data.batch_size {cfg.data.batch_size} must be divisible by processes x optim.micro_batches "
            f"({process.world_size} x {cfg.optim.micro_batches})"
        )
    trainer = Trainer(cfg, device, build_perceptual(cfg), process.rank, process.world_size)
    if checkpoint is None:
        initialise(trainer, dataset, init)
    else:
        try:
            trainer.load_state_dict(checkpoint["trainer"])
        except (RuntimeError, ValueError, KeyError) as err:
            raise UserError(
                f"{run_dir}: the step {checkpoint['step']} checkpoint does not fit the configuration, was a size "
                f"changed with --set? ({str(err).splitlines()[0]})"
            ) from None
    loader = DataLoader(
        training_domains(cfg, dataset),
        batch_sampler=StepBatchSampler(cfg.data.batch_size, process.rank, process.world_size, trainer.step),
        num_workers=cfg.data.workers,
        pin_memory=device.type == "cuda",
    )
    total = cfg.schedule.steps
    started = time.perf_counter()
    budget = 60.0 * cfg.schedule.max_minutes if cfg.schedule.max_minutes else None

    def out_of_time() -> bool:
        if budget is None:
            return False
        trainer.time_progress = min(1.0, (time.perf_counter() - started) / budget)
        # Collective under DDP, so every process stops at the same step.
        return trainer.any_process(main and trainer.time_progress >= 1.0)

    if not main:
        for batch in itertools.islice(loader, total - trainer.step):
            trainer.training_step(batch)
            if out_of_time():
                break
        return trainer

    validation = None
    if cfg.validation.every and cfg.validation.pairs:
        validation = load_validation_set(
            dataset.validation, cfg.validation.pairs, cfg.validation.crop, cfg.model.size_multiple
        )
        if validation is None:
            tqdm.write(
                f"{dataset.origin or 'the dataset'} has no validation pairs: validation is off "
                "(set data.paired to split one off)"
            )
    if show and trainer.step == 0:
        tqdm.write(
            f"{dataset.describe()}\nSeNM-VAE {trainer.model.num_parameters() / 1e6:.2f} M parameters "
            f"(+ {trainer.model.num_parameters('level_predictor') / 1e6:.2f} M level predictor) on {device}"
            + (f", {process.world_size} processes" if process.world_size > 1 else "")
        )
    log = MetricsLog(run_dir, trainer.step, cfg.logging.tensorboard)
    if trainer.step == total:  # finished already; the export may predate a kill after the last checkpoint
        _export(trainer, run_dir)
    start_step = trainer.step
    bar = progress_bar(total=total, initial=start_step, disable=not show, unit="step", dynamic_ncols=True)
    window: list[dict[str, float]] = []
    tick = time.perf_counter()
    try:
        for batch in itertools.islice(loader, total - trainer.step):
            window.append(trainer.training_step(batch))
            step = trainer.step
            stopping = out_of_time()
            if budget is not None and trainer.time_progress > 0:
                # Under a time budget the bar counts to the step the budget will end at, so its ETA is real.
                expected = start_step + (step - start_step) / trainer.time_progress
                bar.total = max(step, min(total, round(expected)))
            bar.update(1)
            last = step == total or stopping
            if step % cfg.logging.every == 0 or last:
                now = time.perf_counter()
                values = mean_statistics(window)
                values.update({f"total_skipped_{k}": v for k, v in trainer.skipped.items()})
                values["seconds_per_step"] = (now - tick) / len(window)
                log.write(step, "train", values)
                bar.set_postfix({k: f"{values[k]:.4g}" for k in PROGRESS_KEYS if k in values}, refresh=False)
                window, tick = [], now
            if validation is not None and (step % cfg.validation.every == 0 or last):
                _validate(trainer, validation, run_dir, log)
            if step % cfg.checkpoint.every == 0 or last:
                _checkpoint(trainer, run_dir)
            if stopping:
                tqdm.write(f"schedule.max_minutes ({cfg.schedule.max_minutes:g}) reached: stopped at step {step}")
                break
    finally:
        bar.close()
        log.close()
    return trainer


def _payload(trainer: Trainer) -> dict:
    cfg = trainer.cfg
    return {
        "step": trainer.step,
        "config": cfg.to_dict(),
        "trainer": trainer.state_dict(),
        "sampler": {"seed": cfg.seed, "next_step": trainer.step, "batch_size": cfg.data.batch_size},
    }


def _export(trainer: Trainer, run_dir: Path) -> None:
    save_model(
        trainer.export_model,
        run_dir / MODEL_FILE,
        extra_metadata={
            "step": str(trainer.step),
            "weights": "ema" if trainer.ema is not None else "model",
            "level": trainer.cfg.data.level,
        },
    )


def _refuse_untrained(trainer: Trainer, run_dir: Path) -> None:
    """A run none of whose steps updated the weights is stopped before it saves or publishes anything:
    its model would be the initial one, unchanged by training (outputs NaN when that one does)."""
    if trainer.updates or not trainer.step:
        return
    skipped, cfg = trainer.skipped, trainer.cfg
    start = f"init.weights ({cfg.init.weights})" if cfg.init.weights is not None else "the initial weights"
    raise UserError(
        f"{run_dir}: none of its {trainer.step} steps updated the weights ({skipped['nonfinite']} skipped because "
        f"the loss or its gradient was not finite, {skipped['grad_norm']} because the gradient norm reached "
        "optim.skip_grad_norm), so nothing was saved or published. Check the data (senmvae data check "
        f"{cfg.data.spec}) and {start}: a model whose outputs are not finite on this data cannot be trained; "
        f"then lower optim.lr (now {cfg.optim.lr:g})"
        + (" or raise optim.skip_grad_norm" if skipped["grad_norm"] else "")
        + " and start again in a new --out folder"
    )


def _checkpoint(trainer: Trainer, run_dir: Path) -> None:
    _refuse_untrained(trainer, run_dir)
    if not all(bool(torch.isfinite(p).all()) for p in trainer.export_model.parameters()):
        kept = step_checkpoints(run_dir)
        raise UserError(
            f"{run_dir}: the weights are no longer finite at step {trainer.step}; nothing was saved. "
            + (
                f"Resume from the step {kept[-1][0]} checkpoint with a lower optim.lr"
                if kept
                else "Start again with a lower optim.lr"
            )
        )
    save_checkpoint(_payload(trainer), step_path(run_dir, trainer.step))
    prune_checkpoints(run_dir, trainer.cfg.checkpoint.keep_last)
    _export(trainer, run_dir)


def _validate(trainer: Trainer, data: ValidationSet, run_dir: Path, log: MetricsLog) -> None:
    cfg = trainer.cfg
    metrics, grid = evaluate(trainer.export_model, data, cfg.objective.p_clean, seed=cfg.seed)
    step = trainer.step
    write_image(run_dir / "validation" / f"step_{step:07d}.png", grid)
    log.write(step, "validation", metrics)
    log.image("validation/grid", step, grid)
    name = cfg.validation.best_metric
    value = metrics[name]
    best = trainer.best
    lower_is_better = BEST_METRICS[name]
    better = (
        best is None or best["metric"] != name or (value < best["value"] if lower_is_better else value > best["value"])
    )
    if math.isfinite(value) and better:
        trainer.best = {"metric": name, "value": value, "step": step}
        save_checkpoint(_payload(trainer), checkpoint_dir(run_dir) / BEST_NAME)
