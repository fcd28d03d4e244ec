"""``senmvae benchmark``: how realistic is each noise model, and how good a denoiser does it train?

Stages, each within its share of the wall-clock budget:

1. data: split the training collection by scene (N paired, the rest halved into source clean
   and target noisy, a share of scenes held out for evaluation unless ``--eval`` is given);
2. SeNM-VAE on the split, and the same model on the paired samples alone;
3. the baselines (AWGN, heteroscedastic and colored heteroscedastic Gaussian) fitted on the paired samples, and the real
   noise itself (oracle);
4. noisy versions of every evaluation clean image from each model (SeNM-VAE conditioned on
   each image's true noise std, and separately on the std its level predictor reads off the
   real noisy image) and the realism metrics against the real noisy images;
5. per noise model, noisy versions of the source-domain clean images synthesized first (the
   oracle: their real partners), then one DnCNN per training mode (synthetic pairs only, and/or
   with the real paired crops) and seed, every one trained the same number of steps, and
   tested on the evaluation pairs.

Writes ``results.json``, ``results.md`` and ``report.html`` in the output folder.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from tqdm import tqdm

from senmvae import metrics
from senmvae.atomic import write_text_atomic
from senmvae.baselines import (
    AWGN,
    BaselineNoiseModel,
    ColoredHeteroscedasticGaussian,
    HeteroscedasticGaussian,
    RealNoiseOracle,
)
from senmvae.baselines.second_order import SecondOrderLR
from senmvae.data import Pair, SemiSupervisedSet, load_spec, validate, write_manifest
from senmvae.downstream import (
    MIN_REAL_GAIN_DB,
    PairCrops,
    affordable_steps,
    denoise_image,
    evaluate_denoiser,
    seed_spread,
    synthesize_pairs,
    train_denoiser,
    training_crops,
)
from senmvae.errors import UserError
from senmvae.evaluation.checks import load_metric_weights, require_crop_fits, require_evaluation_pairs
from senmvae.evaluation.config import UNPAIRED_DOMAINS, BenchmarkConfig
from senmvae.evaluation.fidelity import EvalSet, benchmark_split, centre_crop, chw, hwc
from senmvae.evaluation.report import write_report
from senmvae.evaluation.report_data import ReportData
from senmvae.generate import NoiseModel
from senmvae.generate.base import NoiseSource
from senmvae.generate.levels import ChoiceLevel
from senmvae.generate.ownership import file_sha256
from senmvae.generate.seeding import stream_generator
from senmvae.model.io import MODEL_FILE, resolve_model_path
from senmvae.noise_level import noise_level
from senmvae.progress import progress_bar
from senmvae.train.config import TrainConfig, train_preset
from senmvae.train.run import initial_model, start_run
from senmvae.train.run_log import METRICS_NAME, read_metrics, training_seconds

REAL = "real"
PREDICTED = "_predicted_level"
PAIRED_ALONE = "paired_alone"  # the denoiser trained on the real paired crops alone
SPLIT_NAME = "split.json"  # the manifest of the split, which the SeNM-VAE runs read
# The Frechet distance of image features fits a Gaussian (mean and covariance) to each set.
FEATURE_STATISTICS_PAIRS = 2


def _say(message: str) -> None:
    tqdm.write(f"[benchmark] {message}")


# --------------------------------------------------------------------------- data
@dataclass
class BenchmarkData:
    train_spec: str  # what the SeNM-VAE runs read (a manifest written into the output folder)
    dataset: SemiSupervisedSet
    eval_set: EvalSet
    eval_origin: str
    oracle_pairs: list[Pair]  # real pairs behind the paired and source-domain images

    @functools.cached_property
    def paired_arrays(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The (clean, noisy) arrays of the paired domain, read once."""
        return [(p.clean.load(), p.noisy.load()) for p in self.dataset.paired]


def prepare_data(cfg: BenchmarkConfig, out: Path, crop: int, multiple: int) -> BenchmarkData:
    """The split (SeNM-VAE training images at least ``crop`` pixels), the evaluation set, and the
    checks that the denoisers' crop fits their training images and that there are enough
    evaluation pairs for every metric."""
    collection = load_spec(cfg.train)
    held_out_eval = cfg.eval is None
    if collection.source or collection.target:
        _say(f"{cfg.train} is already split into domains; --paired does not apply")
    validation = cfg.validation_fraction if held_out_eval else 0.0
    split_seed = cfg.seed if cfg.split_seed is None else cfg.split_seed
    dataset = benchmark_split(collection, cfg.paired, split_seed, validation)
    manifest = write_manifest(
        out / SPLIT_NAME,
        senmvae_view(dataset, cfg),
        source_spec=str(cfg.train),
        seed=split_seed,
        paired_count=cfg.paired,
    )
    report = validate(dataset, crop)
    dataset = report.dataset
    sizes = [*report.stats["paired"].sizes.elements(), *report.stats["source"].sizes.elements()]
    require_crop_fits(sizes, cfg.denoiser.crop, "denoiser.crop", "the denoisers' training images (paired and source)")

    if held_out_eval:
        eval_pairs, eval_origin = dataset.validation, f"held-out scenes of {cfg.train}"
        if not eval_pairs:
            raise UserError(f"{cfg.train} leaves no held-out pairs to evaluate on; pass --eval SPEC with real pairs")
    else:
        evaluation = load_spec(cfg.eval)
        eval_pairs, eval_origin = (evaluation.validation or evaluation.paired), str(cfg.eval)
        if not eval_pairs:
            raise UserError(f"--eval {cfg.eval} holds no (clean, noisy) pairs to evaluate on")
    eval_pairs = sorted(eval_pairs, key=lambda p: p.name)[: cfg.max_eval_pairs]
    require_evaluation_pairs(
        len(eval_pairs),
        FEATURE_STATISTICS_PAIRS,
        eval_origin,
        "that the Frechet distance of image features needs",
        "pass --eval SPEC with more real pairs, hold out more scenes (validation_fraction), or raise max_eval_pairs",
    )
    crops = [
        (
            pair.name,
            centre_crop(pair.clean.load(), cfg.eval_crop, multiple),
            centre_crop(pair.noisy.load(), cfg.eval_crop, multiple),
        )
        for pair in progress_bar(eval_pairs, desc="loading evaluation pairs", leave=False)
    ]
    shapes = {c.shape for _, c, _ in crops}
    if len(shapes) > 1:  # stack needs one size: crop all to the smallest
        h, w = min(s[0] for s in shapes), min(s[1] for s in shapes)
        crops = [(n, c[:h, :w], y[:h, :w]) for n, c, y in crops]
    eval_set = EvalSet(
        names=[n for n, _, _ in crops],
        clean=torch.stack([chw(c) for _, c, _ in crops]),
        noisy=torch.stack([chw(y) for _, _, y in crops]),
    )
    source_names = {ref.name for ref in dataset.source}
    oracle_pairs = list(dataset.paired) + [p for p in collection.paired if p.clean.name in source_names]
    return BenchmarkData(str(manifest), dataset, eval_set, eval_origin, oracle_pairs)


def senmvae_view(dataset: SemiSupervisedSet, cfg: BenchmarkConfig) -> SemiSupervisedSet:
    """What the SeNM-VAE runs learn from: the paired images and, of each unpaired domain in
    ``cfg.unpaired_domains``, the first ``cfg.unpaired`` images (all when None)."""
    kept = {
        domain: list(getattr(dataset, domain))[: cfg.unpaired] if domain in cfg.unpaired_domains else []
        for domain in UNPAIRED_DOMAINS
    }
    return dataclasses.replace(dataset, **kept)


# --------------------------------------------------------------------------- SeNM-VAE runs
@dataclass(frozen=True)
class RunPlan:
    name: str
    minutes: float
    init: str | None  # model to fine-tune from; None: from scratch
    paired_only: bool = False


def plan_runs(cfg: BenchmarkConfig) -> list[RunPlan]:
    """The SeNM-VAE runs: from scratch and/or fine-tuned from ``cfg.init`` (they share the
    ``senmvae`` share of the budget), and the paired-only variant (from ``cfg.init`` when given)."""
    budget = cfg.budget_minutes
    main: list[tuple[str, str | None]] = []
    if cfg.init is None or cfg.from_scratch:
        main.append(("senmvae", None))
    if cfg.init is not None:
        main.append(("senmvae_finetuned", cfg.init))
    plans = [RunPlan(name, budget * cfg.shares.senmvae / len(main), init) for name, init in main]
    if cfg.shares.senmvae_paired_only > 0:
        plans.append(
            RunPlan("senmvae_paired_only", budget * cfg.shares.senmvae_paired_only, cfg.init, paired_only=True)
        )
    return plans


class RunSettings(Protocol):
    """What :func:`train_senmvae` reads from a benchmark's settings (denoising or super-resolution)."""

    seed: int
    device: str
    preset: str
    finetune_preset: str
    train_overrides: tuple[str, ...]


def run_config(cfg: RunSettings, plan: RunPlan, train_spec: str) -> TrainConfig:
    """The training settings of one planned run (before its initial model is read)."""
    overrides = [
        f"data.spec={train_spec}",
        f"seed={cfg.seed}",
        f"device={cfg.device}",
        f"schedule.max_minutes={plan.minutes}",
        *cfg.train_overrides,
    ]
    if plan.paired_only:
        overrides.append("data.frequencies=[1.0, 0.0, 0.0]")
    train_cfg = train_preset(cfg.finetune_preset if plan.init is not None else cfg.preset).with_overrides(overrides)
    if plan.init is not None:
        train_cfg = train_cfg.merged({"init": {"weights": plan.init}})
    return train_cfg


def checked_run_configs(cfg: RunSettings, plans: list[RunPlan], train_spec: str) -> dict[str, TrainConfig]:
    """Every planned run's settings as it will train (its initial model read and its sizes
    taken), so that an unknown preset, a bad override, a missing or unreadable initial model or
    a crop its model cannot take is refused before any run trains. Each run needs the
    noise-level predictor: the benchmark reads levels off noisy images with it."""
    checked = {}
    for plan in plans:
        start = f"--init {plan.init}, '{cfg.finetune_preset}' preset" if plan.init else f"'{cfg.preset}' preset"
        try:
            train_cfg = initial_model(run_config(cfg, plan, train_spec))[0]
        except UserError as err:
            raise UserError(f"the SeNM-VAE run {plan.name} ({start}) cannot start: {err}") from None
        if train_cfg.model.level_predictor is None:
            raise UserError(
                f"the SeNM-VAE run {plan.name} ({start}) would have no noise-level predictor, which the benchmark "
                "uses to read levels off noisy images; drop model.level_predictor=null from train_overrides"
            )
        checked[plan.name] = train_cfg
    return checked


DONE_FILE = "benchmark_done"


def run_fingerprint(train_cfg: TrainConfig) -> dict:
    """What a finished run was trained with: its settings and the content hash of the model it
    started from (a model updated under the same name or folder is another start)."""
    init = train_cfg.init.weights
    fingerprint = {
        "config": train_cfg.to_dict(),
        "init_sha256": file_sha256(resolve_model_path(init)) if init else None,
    }
    return json.loads(json.dumps(fingerprint, sort_keys=True, default=str))  # as it reads back from the file


def _finished_fingerprint(run_dir: Path) -> dict | None:
    try:
        return json.loads((run_dir / DONE_FILE).read_text())
    except (OSError, ValueError):
        return None


def _set_aside(run_dir: Path) -> Path:
    """Move a finished run out of the way under a free ``NAME.previous[-k]`` name."""
    target = run_dir.with_name(f"{run_dir.name}.previous")
    k = 1
    while target.exists():
        k += 1
        target = run_dir.with_name(f"{run_dir.name}.previous-{k}")
    run_dir.rename(target)
    return target


def train_senmvae(cfg: RunSettings, plan: RunPlan, train_spec: str, out: Path) -> Path:
    """Train a SeNM-VAE run, or reuse a finished one trained with the very same settings and
    initial model; returns its folder."""
    run_dir = out / "runs" / plan.name
    train_cfg = run_config(cfg, plan, train_spec)
    fingerprint = run_fingerprint(train_cfg)
    if (run_dir / MODEL_FILE).is_file() and (run_dir / DONE_FILE).is_file():
        if _finished_fingerprint(run_dir) == fingerprint:
            _say(f"{plan.name}: reusing the finished run in {run_dir}")
            return run_dir
        kept = _set_aside(run_dir)
        _say(
            f"{plan.name}: the finished run in {run_dir} was trained with other settings or another initial model; "
            f"it is kept as {kept} and the run is trained again"
        )
    if run_dir.exists():
        import shutil

        shutil.rmtree(run_dir)
    preset = cfg.finetune_preset if plan.init is not None else cfg.preset
    start = (
        f"fine-tuning {plan.init} ('{preset}' preset)" if plan.init else f"training the '{preset}' preset from scratch"
    )
    _say(f"{plan.name}: {start} for at most {plan.minutes:.1f} min")
    start_run(train_cfg, run_dir)
    write_text_atomic(run_dir / DONE_FILE, json.dumps(fingerprint, indent=1, sort_keys=True) + "\n")
    return run_dir


def training_curves(run_dir: Path) -> dict[str, list[float]]:
    rows = [r for r in read_metrics(run_dir / METRICS_NAME) if r.get("kind") == "train"]
    if not rows:
        return {}
    keys = ("loss", "rec_noisy", "rec_clean", "kl_zn", "level_l1", "noise_residual")
    curves: dict[str, list[float]] = {"step": [float(r["step"]) for r in rows]}
    for key in keys:
        if rows and all(key in r for r in rows):
            curves[key] = [float(r[key]) for r in rows]
    return curves


# --------------------------------------------------------------------------- synthesis and metrics
def synthesize(
    source: NoiseSource, eval_set: EvalSet, level: torch.Tensor | None, seed: int, name: str, temperature: float
) -> torch.Tensor:
    outputs = []
    for start in range(0, len(eval_set.names), 4):
        rows = slice(start, start + 4)
        gens = [stream_generator(seed, f"{name}/{image}") for image in eval_set.names[rows]]
        kwargs = {"level": level[rows]} if level is not None else {}
        with torch.no_grad():
            outputs.append(source.sample(eval_set.clean[rows], temperature=temperature, generator=gens, **kwargs))
    return torch.cat(outputs)


def noise_metrics(synthetic: torch.Tensor, eval_set: EvalSet, cfg: BenchmarkConfig) -> dict[str, float]:
    real, clean = eval_set.noisy, eval_set.clean
    shown = synthetic.clamp(0.0, 1.0)
    optional = {}
    if cfg.inception_weights:
        optional["fid_inception"] = float(metrics.fid_inception(shown, real, cfg.inception_weights))
    if cfg.lpips_backbone:
        optional["lpips_alex"] = float(metrics.lpips_alex(shown, real, cfg.lpips_backbone, cfg.lpips_linear).mean())
    return (
        optional
        | {
            "kl_intensity_senmvae": float(metrics.kl_intensity_histogram_senmvae(shown, real)),
            "kl_noise_neca": float(metrics.kl_noise_histogram(synthetic, real, clean, convention="neca")),
            "akld_danet": float(metrics.akld_danet(synthetic, real, clean).mean()),
            "akld_reverse": float(metrics.akld_reverse(synthetic, real, clean).mean()),
            "fd_effnet_lite0": float(metrics.fd_effnet_lite0(shown, real)),
            "noise_std_8bit": float(noise_level(synthetic, clean).mean() * 255.0),
        }
        | metrics.compare_structure(
            metrics.noise_structure(synthetic, clean), metrics.noise_structure(real, clean), include_real=False
        )
    )


def _noise_sample(noisy: torch.Tensor, clean: torch.Tensor, count: int = 200_000) -> np.ndarray:
    noise = (noisy - clean).flatten().numpy()
    rng = np.random.default_rng(0)
    return noise[rng.choice(noise.size, size=min(count, noise.size), replace=False)]


def _report_windows(eval_set: EvalSet, count: int, size: int, seed: int) -> list[tuple[int, int, int]]:
    rng = np.random.default_rng(seed)
    n, _, h, w = eval_set.clean.shape
    size = min(size, h, w)
    return [
        (int(rng.integers(n)), int(rng.integers(h - size + 1)), int(rng.integers(w - size + 1))) for _ in range(count)
    ]


def _cut(images: torch.Tensor, windows: list[tuple[int, int, int]], size: int) -> np.ndarray:
    size = min(size, images.shape[-2], images.shape[-1])
    return np.stack([hwc(images[i, :, top : top + size, left : left + size]) for i, top, left in windows])


# --------------------------------------------------------------------------- the stages
@dataclass
class NoiseRows:
    """Every noise model of the comparison, in report order, and which of them are SeNM-VAE rows."""

    sources: dict[str, NoiseSource]  # "real" last (the oracle)
    senmvae: list[str]  # rows that are SeNM-VAE models (also get a predicted-level row)

    @property
    def order(self) -> list[str]:
        return list(self.sources)

    @property
    def synthetic(self) -> list[str]:
        return [name for name in self.sources if name != REAL]


def sampler_row(run: str, sampler: str) -> str:
    return run if sampler == "paper" else f"{run}_{sampler.replace('-', '_')}"


def build_rows(cfg: BenchmarkConfig, runs: dict[str, Path], data: BenchmarkData) -> NoiseRows:
    ds = data.dataset
    paired_arrays = data.paired_arrays
    train_levels = [float(noise_level(torch.from_numpy(n), torch.from_numpy(c))) for c, n in paired_arrays]
    sources: dict[str, NoiseSource] = {}
    senmvae_rows = []
    for run, run_dir in runs.items():
        first = NoiseModel.load(run_dir, device=cfg.device, temperature=cfg.temperature)
        target_levels = [first.predict_level(ref.load()) for ref in ds.target]
        policy = ChoiceLevel(tuple(train_levels + target_levels), origin="paired std and predicted target std")
        for sampler in cfg.samplers:
            model = NoiseModel(
                first.network,
                level=policy,
                temperature=cfg.temperature,
                device=cfg.device,
                sampler=sampler,
                match_level=first.match_level,
            )
            sources[sampler_row(run, sampler)] = model
            senmvae_rows.append(sampler_row(run, sampler))
    fitted = {
        "awgn": AWGN,
        "heteroscedastic": HeteroscedasticGaussian,
        "colored_heteroscedastic": ColoredHeteroscedasticGaussian,
    }
    for name in cfg.baselines:
        sources[name] = SecondOrderLR() if name == "second_order" else fitted[name].fit(paired_arrays)
    sources[REAL] = RealNoiseOracle.fit(data.oracle_pairs)
    return NoiseRows(sources, senmvae_rows)


def synthesize_rows(
    cfg: BenchmarkConfig, rows: NoiseRows, eval_set: EvalSet
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Every row's noisy version of the evaluation images, each image at its true noise level
    (SeNM-VAE also at the level its predictor reads off the real noisy image), and the level
    each row was asked for."""
    synthetic: dict[str, torch.Tensor] = {}
    asked: dict[str, torch.Tensor] = {}
    for name in progress_bar(rows.order, desc="synthesizing evaluation images", leave=False):
        source = rows.sources[name]
        asked[name] = eval_set.levels
        if name == REAL:
            synthetic[name] = eval_set.noisy
            continue
        # every model, the Gaussian baselines too, gets each image's true level
        synthetic[name] = synthesize(source, eval_set, eval_set.levels, cfg.seed, name, cfg.temperature)
        if name in rows.senmvae:
            predicted = torch.tensor([source.predict_level(hwc(n)) for n in eval_set.noisy])
            synthetic[name + PREDICTED] = synthesize(source, eval_set, predicted, cfg.seed, name, cfg.temperature)
            asked[name + PREDICTED] = predicted
    return synthetic, asked


def level_control(
    synthetic: dict[str, torch.Tensor], asked: dict[str, torch.Tensor], eval_set: EvalSet
) -> dict[str, dict[str, list[float]]]:
    """Per row and image: the level asked for, the real noise std, and the std of the noise produced."""
    real = [float(v) for v in eval_set.levels]
    return {
        name: {
            "asked": [float(v) for v in asked[name]],
            "real": real,
            "produced": [float(v) for v in noise_level(images, eval_set.clean)],
        }
        for name, images in synthetic.items()
    }


def mode_key(mode: str) -> str:
    """The suffix of a denoiser training mode's columns: ``psnr_synthetic``, ``psnr_synthetic_paired``."""
    return mode.replace("+", "_")


def denoiser_seeds(cfg: BenchmarkConfig) -> list[int]:
    return [cfg.seed + i for i in range(cfg.denoiser_seeds)]


def denoiser_source_pairs(
    cfg: BenchmarkConfig, rows: NoiseRows, data: BenchmarkData
) -> dict[str, list[list[tuple[np.ndarray, np.ndarray]]]]:
    """Per row and denoiser seed, the pairs its denoisers train on in place of real ones:
    ``cfg.denoiser_draws`` noisy versions of every source-domain clean image, each from the stream
    (seed, image, version), the same for every row. The real row: the real partners of the source
    images, or the paired samples where the data has none (a set already split into domains)."""
    refs = list(data.dataset.source)
    if cfg.synthesize_from == "source+paired":
        refs = [pair.clean for pair in data.dataset.paired] + refs
    if not refs:
        raise UserError(
            f"the split of {cfg.train} leaves no source clean images to synthesize the denoisers' pairs from; "
            "lower --paired or set synthesize_from to source+paired"
        )
    clean = [ref.load() for ref in refs]
    names = [ref.name for ref in refs]
    real = {p.clean.name: p for p in data.oracle_pairs}
    partners = [(real[name].clean.load(), real[name].noisy.load()) for name in names if name in real]
    pools = {}
    for name in progress_bar(rows.order, desc="synthesizing the denoisers' training pairs", leave=False):
        if name == REAL:
            pools[name] = [partners or data.paired_arrays for _ in denoiser_seeds(cfg)]
        else:
            source = rows.sources[name]
            pools[name] = [synthesize_pairs(source, clean, names, cfg.denoiser_draws, s) for s in denoiser_seeds(cfg)]
    return pools


def train_denoisers(
    cfg: BenchmarkConfig,
    rows: NoiseRows,
    data: BenchmarkData,
    pools: dict[str, list[list[tuple[np.ndarray, np.ndarray]]]],
    steps: int,
    windows: list[tuple[int, int, int]],
) -> tuple[dict[str, dict[str, float]], dict, dict[str, np.ndarray], dict[str, dict[str, list[float]]]]:
    """Per row, training mode and seed, one DnCNN trained exactly ``steps`` steps on crops of the
    row's pairs (``pools``), in "synthetic+paired" mixed with the real paired crops. Returns
    each row's scores on the evaluation pairs (per mode the mean over the seeds, with more than
    one seed also the sample std), every seed's scores, the report crops denoised by the first
    seed's denoiser of the first mode, and the first seed's loss curves."""
    eval_set = data.eval_set
    denoiser_cfg = cfg.denoiser.replace(steps=steps, time_budget_s=None)
    eval_pairs = eval_set.pairs()
    # Only the images the report shows are denoised; windows re-indexed into that subset.
    shown_images = sorted({i for i, _, _ in windows})
    shown_windows = [(shown_images.index(i), top, left) for i, top, left in windows]
    scores, per_seed, crops, curves = {}, {}, {}, {}

    def train_one(name: str, mode: str, seed: int, pairs, first: bool) -> dict:
        _say(f"denoiser for {name}, {mode}, seed {seed}: {steps} steps")
        dncnn, history = train_denoiser(denoiser_cfg.replace(seed=seed), pairs)
        result = evaluate_denoiser(dncnn, eval_pairs)
        if first:
            curve = curves.setdefault(f"dncnn/{name}", {"step": [float(s) for s in history.step]})
            curve[f"loss ({mode})"] = list(history.loss)
            if name not in crops:
                denoised = torch.stack([chw(denoise_image(dncnn, hwc(eval_set.noisy[i]))) for i in shown_images])
                crops[name] = _cut(denoised, shown_windows, cfg.report_crop_size)
        return {"seed": seed, "psnr": result["psnr"], "ssim": result["ssim"], "steps": history.steps}

    for name in rows.order:
        runs: dict[str, list[dict]] = {mode: [] for mode in cfg.denoiser_training}
        for index, (seed, pool) in enumerate(zip(denoiser_seeds(cfg), pools[name])):
            for mode in cfg.denoiser_training:
                pairs = training_crops(mode, pool, data.paired_arrays, cfg.paired_fraction)
                runs[mode].append(train_one(name, mode, seed, pairs, index == 0))
        scores[name], per_seed[name] = _seed_row(runs), runs
    if cfg.paired_alone:
        alone = [
            train_one(PAIRED_ALONE, "paired", s, PairCrops(data.paired_arrays), i == 0)
            for i, s in enumerate(denoiser_seeds(cfg))
        ]
        runs = {mode: alone for mode in cfg.denoiser_training}
        scores[PAIRED_ALONE], per_seed[PAIRED_ALONE] = _seed_row(runs), runs
    return scores, per_seed, crops, curves


def _seed_row(runs: dict[str, list[dict]]) -> dict[str, float]:
    """Per training mode, the mean PSNR and SSIM over the seeds (and their sample std with several seeds)."""
    row: dict[str, float] = {"denoiser_steps": min(r["steps"] for mode_runs in runs.values() for r in mode_runs)}
    for mode, mode_runs in runs.items():
        for metric in ("psnr", "ssim"):
            spread = seed_spread([r[metric] for r in mode_runs])
            row[f"{metric}_{mode_key(mode)}"] = spread["mean"]
            if "std" in spread:
                row[f"{metric}_{mode_key(mode)}_std"] = spread["std"]
    return row


@dataclass
class BenchmarkResult:
    """What results.json holds: per-row metrics, the downstream validity, data, timing, settings."""

    models: dict[str, dict[str, float]]
    model_order: list[str]
    downstream: dict
    data: dict
    timing: dict[str, float]
    machine: str
    config: dict
    level_control: dict[str, dict[str, list[float]]]
    runs: dict[str, dict]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _downstream_validity(models: dict[str, dict[str, float]], modes: tuple[str, ...]) -> dict:
    """Per training mode, the real-pair denoiser's gain over the noisy input; the comparison is
    valid when every mode's gain reaches :data:`MIN_REAL_GAIN_DB` (``real_gain_db``: the smallest)."""
    gains = {mode: models[REAL][f"psnr_{mode_key(mode)}"] - models["noisy_input"]["psnr"] for mode in modes}
    gain = min(gains.values())
    valid = gain >= MIN_REAL_GAIN_DB
    described = ", ".join(f"{gain:.2f} dB ({mode})" for mode, gain in gains.items())
    return {
        "real_gain_db": round(gain, 3),
        "min_gain_db": MIN_REAL_GAIN_DB,
        "valid": bool(valid),
        "modes": {mode: round(gain, 3) for mode, gain in gains.items()},
        "note": (
            f"the denoiser trained on real pairs beats the noisy input by {described}; the downstream comparison "
            + ("is meaningful" if valid else f"is INVALID (needs >= {MIN_REAL_GAIN_DB} dB)")
        ),
    }


def run_summary(plan: RunPlan, run_dir: Path) -> dict:
    records = read_metrics(run_dir / METRICS_NAME)
    train = [r for r in records if r.get("kind") == "train"]
    return {
        "init": plan.init,
        "paired_only": plan.paired_only,
        "steps": train[-1]["step"] if train else 0,
        "minutes": round(training_seconds(records) / 60.0, 2),
        "budget_minutes": round(plan.minutes, 2),
    }


# --------------------------------------------------------------------------- the whole benchmark
class StageClock:
    """Wall-clock seconds of each stage of a benchmark run, in ``timing``, and of the whole run."""

    def __init__(self) -> None:
        self.started = self._since = time.perf_counter()
        self.timing: dict[str, float] = {}

    def lap(self, stage: str) -> None:
        """Record the seconds since the last lap (or the start) as ``stage``."""
        now = time.perf_counter()
        self.timing[stage] = round(now - self._since, 1)
        self._since = now

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def finish(self) -> None:
        self.timing["total_s"] = round(self.elapsed(), 1)


def run_benchmark(cfg: BenchmarkConfig, out: str | Path) -> dict:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    clock = StageClock()
    budget_s = cfg.budget_minutes * 60.0

    plans = plan_runs(cfg)
    run_configs = checked_run_configs(cfg, plans, str(out / SPLIT_NAME)).values()
    load_metric_weights(cfg.inception_weights, cfg.lpips_backbone, cfg.lpips_linear)
    crop = max(c.data.crop for c in run_configs)
    data = prepare_data(cfg, out, crop, math.lcm(*(c.model.size_multiple for c in run_configs)))
    ds, eval_set = data.dataset, data.eval_set
    _say(
        f"split: {len(ds.paired)} paired, {len(ds.source)} source, {len(ds.target)} target; "
        f"evaluating on {len(eval_set.names)} pairs ({data.eval_origin})"
    )
    clock.lap("data_s")

    runs: dict[str, Path] = {}
    for plan in plans:
        runs[plan.name] = train_senmvae(cfg, plan, data.train_spec, out)
        clock.lap(f"{plan.name}_training_s")

    rows = build_rows(cfg, runs, data)
    for name, source in rows.sources.items():
        if name != REAL and isinstance(source, BaselineNoiseModel):
            source.save(out / "baselines" / f"{name}.json")
    synthetic, asked = synthesize_rows(cfg, rows, eval_set)
    results = {
        name: noise_metrics(images, eval_set, cfg)
        for name, images in progress_bar(synthetic.items(), desc="noise metrics", leave=False)
    }
    clock.lap("synthesis_and_metrics_s")

    pools = denoiser_source_pairs(cfg, rows, data)
    clock.lap("denoiser_pairs_synthesis_s")
    # Crops of pairs made up front cost the same for every row, so every denoiser gets the same
    # steps: denoiser.steps, or as many as the denoisers' share of the budget affords.
    remaining = budget_s - clock.elapsed()
    denoiser_count = (len(rows.order) * len(cfg.denoiser_training) + cfg.paired_alone) * cfg.denoiser_seeds
    seconds = min(budget_s * cfg.shares.denoisers, remaining * 0.9)
    steps = affordable_steps(cfg.denoiser, PairCrops(data.paired_arrays), seconds, denoiser_count)
    if steps < cfg.denoiser.steps:
        _say(
            f"the budget affords {steps} of denoiser.steps={cfg.denoiser.steps} for each of {denoiser_count} denoisers"
        )
    windows = _report_windows(eval_set, cfg.report_crops, cfg.report_crop_size, cfg.seed)
    scores, per_seed, denoised_crops, dncnn_curves = train_denoisers(cfg, rows, data, pools, steps, windows)
    del pools
    for name, values in scores.items():
        results.setdefault(name, {}).update(values)
    noisy_scores = {
        "psnr": float(metrics.psnr(eval_set.noisy, eval_set.clean).mean()),
        "ssim": float(metrics.ssim(eval_set.noisy, eval_set.clean).mean()),
    }
    results["noisy_input"] = noisy_scores | {
        f"{metric}_{mode_key(mode)}": noisy_scores[metric] for mode in cfg.denoiser_training for metric in noisy_scores
    }
    denoised_crops["noisy_input"] = _cut(eval_set.noisy, windows, cfg.report_crop_size)
    clock.lap("denoisers_s")
    clock.finish()

    synthetic_names = rows.synthetic
    order = synthetic_names + [n + PREDICTED for n in rows.senmvae] + [REAL]
    result = BenchmarkResult(
        models=results,
        model_order=order + [PAIRED_ALONE] * cfg.paired_alone + ["noisy_input"],
        downstream=_downstream_validity(results, cfg.denoiser_training)
        | {
            "training": list(cfg.denoiser_training),
            "steps": steps,
            "batch_size": cfg.denoiser.batch_size,
            "crop": cfg.denoiser.crop,
            "seeds": denoiser_seeds(cfg),
            "draws": cfg.denoiser_draws,
            "per_seed": per_seed,
        },
        data={
            "train": str(cfg.train),
            "eval": data.eval_origin,
            "paired": len(ds.paired),
            "source": len(ds.source),
            "target": len(ds.target),
            "eval_pairs": len(eval_set.names),
            "eval_size": list(eval_set.clean.shape[-2:]),
        },
        timing=clock.timing,
        machine=f"{os.cpu_count()} CPU cores, torch {torch.__version__}, device {cfg.device}",
        config=cfg.to_dict(),
        level_control=level_control(synthetic, asked, eval_set),
        runs={plan.name: run_summary(plan, runs[plan.name]) for plan in plans},
    )
    document = result.to_dict()
    write_json(out / "results.json", document)
    (out / "results.md").write_text(markdown_table(document) + "\n")

    crops = {
        "clean": _cut(eval_set.clean, windows, cfg.report_crop_size),
        REAL: _cut(eval_set.noisy, windows, cfg.report_crop_size),
    }
    for name in synthetic_names:
        crops[name] = _cut(synthetic[name].clamp(0, 1), windows, cfg.report_crop_size)
    report = ReportData(
        results=document,
        model_order=order,
        crops=crops,
        denoised=denoised_crops,
        nlf={name: metrics.noise_level_function(images, eval_set.clean) for name, images in synthetic.items()},
        nps={name: metrics.noise_power_spectrum(images, eval_set.clean) for name, images in synthetic.items()},
        structure={name: metrics.noise_structure(images, eval_set.clean) for name, images in synthetic.items()},
        placement={
            name: metrics.noise_placement(images.clamp(0, 1), eval_set.clean) for name, images in synthetic.items()
        },
        noise_samples={name: _noise_sample(images, eval_set.clean) for name, images in synthetic.items()},
        curves={name: training_curves(run_dir) for name, run_dir in runs.items()} | dncnn_curves,
    )
    write_report(out / "report.html", report)
    return document


def write_json(path: Path, document: dict) -> None:
    write_text_atomic(path, json.dumps(document, indent=1, default=jsonable) + "\n")


def jsonable(value: object) -> object:
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


# (metric, label, digits); the direction arrows come from senmvae.metrics.METRICS
COLUMNS = [
    ("kl_intensity_senmvae", "KL intensity (SeNM-VAE)", 4),
    ("kl_noise_neca", "KL noise (NeCA)", 4),
    ("akld_danet", "AKLD DANet", 3),
    ("akld_reverse", "AKLD reverse", 3),
    ("fd_effnet_lite0", "FD EffNet-Lite0", 2),
    ("noise_std_8bit", "noise std (8-bit)", 2),
    ("lag1", "lag-1 corr.", 3),
    ("lag2", "lag-2 corr.", 3),
    ("channels", "channel corr.", 3),
    ("spectrum_distance", "spectrum dist.", 3),
    ("grid_share", "grid share", 4),
    ("checkerboard_ratio", "checkerboard ratio", 2),
]


def column_label(metric: str, label: str) -> str:
    """``label`` with the metric's direction arrow, where the metric is registered."""
    info = metrics.METRICS.get(metric)
    return label if info is None else f"{label} {'↑' if info.higher_is_better else '↓'}"


def _cell(row: dict, key: str, digits: int) -> str:
    if key not in row or not math.isfinite(row[key]):
        return "–"
    spread = f" ± {row[key + '_std']:.{digits}f}" if key + "_std" in row else ""
    return f"{row[key]:.{digits}f}{spread}"


def markdown_table(document: dict) -> str:
    """The results table: per training mode the denoisers' PSNR and SSIM (mean ± sample std over
    the seeds when there are several), then the noise metrics; the denoisers' steps below it."""
    models = document["models"]
    order = [n for n in document["model_order"] if n in models]
    d = document["downstream"]
    columns = [
        column
        for mode in d["training"]
        for column in (
            (f"psnr_{mode_key(mode)}", f"PSNR dB ({mode})", 2),
            (f"ssim_{mode_key(mode)}", f"SSIM ({mode})", 4),
        )
    ] + COLUMNS
    lines = [
        "| model | " + " | ".join(column_label(metric, label) for metric, label, _ in columns) + " |",
        "|---|" + "---:|" * len(columns),
    ]
    for name in order:
        row = models[name]
        lines.append(f"| {name} | " + " | ".join(_cell(row, key, digits) for key, _, digits in columns) + " |")
    seeds = d["seeds"]
    lines.append("")
    lines.append(
        f"Denoisers: every one {d['steps']} steps of {d['batch_size']} crops of {d['crop']}x{d['crop']}, "
        f"{len(seeds)} seed(s) {seeds}"
        + (" (± the sample standard deviation over the seeds)" if len(seeds) > 1 else "")
        + f"; trained on {d['draws']} noisy version(s) of each source clean image, synthesized before training."
    )
    lines.append(f"Downstream validity: {d['note']}.")
    return "\n".join(lines)
