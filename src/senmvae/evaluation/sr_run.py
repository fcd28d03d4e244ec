"""``senmvae benchmark --task sr``: which degradation model trains the best real-world SR network?

The paper's section 4.6 (Tables 4-5): SeNM-VAE models real LR images as y = B(x) + n', with B
the bicubic downsampler and n' all the rest (the real downsampler's difference from B, noise,
compression). Stages:

1. data: an AIM 2019 / NTIRE 2020 layout (or the SIMULATED stand-in of
   :mod:`senmvae.data.simulated_sr`): the first ``paired`` validation pairs by name are the
   paired domain (B(HR), real LR), clean HR images bicubic-downsampled are the source domain,
   real LR images the target domain; the other validation pairs are the evaluation pairs;
2. SeNM-VAE on those three domains (fine-tuned from ``init`` and/or from scratch), its level
   being the std of LR - B(HR);
3. degradation models: each SeNM-VAE run with each sampler, ``bicubic`` (B alone),
   ``bicubic_gaussian`` (B + white Gaussian noise, std fitted on the paired LR images),
   ``bicubic_colored_gaussian`` (B + the colored heteroscedastic Gaussian fitted on them) and
   ``second_order`` (Real-ESRGAN's randomized pipeline); LR realism of each against the real
   LR images of the evaluation pairs, noise structure included;
4. one RRDB SR network per degradation model, the same steps, batches, crops and seed for
   each, trained on (synthesized LR, HR) crops of the source-domain HR images, plus
   ``real_pairs``, the same network trained on the paired (real LR, HR) pairs alone (the
   paper's ESRGAN row); PSNR/SSIM (Y and RGB) and feature distances on the evaluation pairs,
   with ``bicubic_upsampling`` (interpolation of the real LR image) as the reference.

Writes ``results.json``, ``results.md``, ``report.html`` and ``split.json`` in the output folder.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from senmvae import metrics
from senmvae.atomic import write_text_atomic
from senmvae.baselines import AWGN, ColoredHeteroscedasticGaussian
from senmvae.data import BicubicImage, ImageRef, Pair, SemiSupervisedSet, load_spec, validate, write_manifest
from senmvae.data.io import read_image
from senmvae.downstream.sr import (
    Bicubic,
    Degradation,
    NoiseOnBicubic,
    RealSRCrops,
    SecondOrder,
    SecondOrderConfig,
    SynthesizedSRCrops,
    evaluate_sr,
    train_sr,
)
from senmvae.downstream.sr.crops import SRCropSource, crop_to_scale
from senmvae.errors import UserError
from senmvae.evaluation.checks import load_metric_weights, require_crop_fits, require_evaluation_pairs
from senmvae.evaluation.run import (
    FEATURE_STATISTICS_PAIRS,
    SPLIT_NAME,
    RunPlan,
    StageClock,
    checked_run_configs,
    jsonable,
    run_summary,
    sampler_row,
    train_senmvae,
    training_curves,
)
from senmvae.evaluation.sr_config import SRBenchmarkConfig
from senmvae.evaluation.sr_report import SRReportData, write_sr_report
from senmvae.generate import NoiseModel
from senmvae.generate.levels import ChoiceLevel
from senmvae.generate.seeding import stream_generator
from senmvae.noise_level import noise_level_of_arrays
from senmvae.progress import progress_bar

REAL_PAIRS = "real_pairs"
INTERPOLATION = "bicubic_upsampling"
BASELINES = ("bicubic", "bicubic_gaussian", "bicubic_colored_gaussian", "second_order")
SR_LAYOUT_HELP = (
    "--task sr needs clean images that are HR files bicubic-downsampled on load: an AIM 2019 track 2 / NTIRE "
    "2020 track 1 folder (Corrupted-tr-x, Corrupted-tr-y, Corrupted-va-x + Corrupted-va-y or DIV2K_valid_HR), a "
    "YAML spec whose entries use 'layout: sr', or 'default' (the simulated SR set)"
)


def _say(message: str) -> None:
    tqdm.write(f"[sr benchmark] {message}")


# --------------------------------------------------------------------------- data
@dataclass
class EvalPair:
    """One evaluation pair: the real LR image, its HR image and B(HR), cropped alike."""

    name: str
    low: np.ndarray
    high: np.ndarray
    bicubic: np.ndarray

    @property
    def level(self) -> float:
        return noise_level_of_arrays(self.low, self.bicubic)


@dataclass
class SRData:
    train_spec: str  # the manifest the SeNM-VAE runs read
    dataset: SemiSupervisedSet
    eval_pairs: list[EvalPair]
    eval_origin: str
    source_hr: list[np.ndarray]
    paired_lr_hr: list[tuple[np.ndarray, np.ndarray]]  # (real LR, HR) of the paired domain
    paired_levels: list[float]  # std of LR - B(HR) of each paired sample
    simulated: bool  # the simulated SR set of senmvae.data.simulated_sr


def _hr_of(ref: ImageRef, scale: int) -> np.ndarray:
    if not isinstance(ref, BicubicImage):
        raise UserError(f"{ref.location} is not an HR image downsampled on load. {SR_LAYOUT_HELP}")
    if ref.scale != scale:
        raise UserError(
            f"{ref.location} is downsampled by {ref.scale}, not by the benchmark's scale {scale}; set --set "
            f"scale={ref.scale} sr.rrdb.scale={ref.scale}, or read the data with 'scale: {scale}' in a YAML spec"
        )
    return crop_to_scale(read_image(ref.path), scale)


def _centre(size: int, side: int) -> int:
    return (size - side) // 2


def _eval_pair(pair: Pair, scale: int, crop: int) -> EvalPair:
    low, bicubic, high = pair.noisy.load(), pair.clean.load(), _hr_of(pair.clean, scale)
    if low.shape != bicubic.shape:
        raise UserError(
            f"{pair.noisy.location}: {low.shape[1]}x{low.shape[0]} is not 1/{scale} of its HR image "
            f"{pair.clean.location}; check the pairing and the scale"
        )
    h, w = low.shape[:2]
    side_h, side_w = (min(h, crop), min(w, crop)) if crop else (h, w)
    top, left = _centre(h, side_h), _centre(w, side_w)
    window = np.s_[top : top + side_h, left : left + side_w]
    high_window = np.s_[scale * top : scale * (top + side_h), scale * left : scale * (left + side_w)]
    return EvalPair(pair.name, low[window], high[high_window], bicubic[window])


def split_sr(collection: SemiSupervisedSet, paired: int) -> tuple[list[Pair], list[Pair]]:
    """(paired domain, evaluation pool): the first ``paired`` pairs by name and the rest, as the paper splits
    the AIM 2019 / NTIRE 2020 validation pairs; a set with validation pairs of its own keeps them for evaluation."""
    pool = sorted(collection.paired, key=lambda p: p.name)
    if collection.validation:
        return pool[:paired], list(collection.validation)
    return pool[:paired], pool[paired:]


def prepare_sr_data(cfg: SRBenchmarkConfig, out: Path, crop: int) -> SRData:
    """The split (SeNM-VAE training images at least ``crop`` pixels), the evaluation pairs, and the
    checks that the SR networks' crop fits their training images and that there are enough
    evaluation pairs for every metric."""
    from senmvae.data.simulated_sr import is_simulated_sr, simulated_sr_path

    root = simulated_sr_path(cfg.photos) if cfg.train == "default" else Path(cfg.train)
    simulated = is_simulated_sr(root)
    if simulated:
        _say(f"data: the SIMULATED real-world SR set in {root} (not AIM 2019 / NTIRE 2020 data)")
    collection = load_spec(root)
    paired, eval_pool = split_sr(collection, cfg.paired)
    eval_origin = f"validation pairs of {cfg.train} after the first {len(paired)}"
    if cfg.eval is not None:
        evaluation = load_spec(cfg.eval)
        eval_pool, eval_origin = (evaluation.validation or evaluation.paired), str(cfg.eval)
    if not collection.source or not collection.target:
        raise UserError(f"{cfg.train} has no source (clean HR) or no target (real LR) images. {SR_LAYOUT_HELP}")
    more = " (add photos to the simulated set with --photos DIR)" if cfg.train == "default" else ""
    if len(paired) < cfg.paired:
        raise UserError(f"{cfg.train} holds {len(paired)} validation pairs, fewer than --paired {cfg.paired}{more}")
    if not eval_pool:
        raise UserError(f"{cfg.train} leaves no pairs to evaluate on after the {len(paired)} paired ones{more}")
    eval_pool = sorted(eval_pool, key=lambda p: p.name)[: cfg.max_eval_pairs]
    dataset = SemiSupervisedSet(
        paired=paired,
        source=list(collection.source),
        target=list(collection.target),
        validation=eval_pool,
        origin=collection.origin,
        problems=list(collection.problems),
    )
    manifest = write_manifest(
        out / SPLIT_NAME, dataset, source_spec=str(cfg.train), seed=cfg.seed, paired_count=len(paired)
    )
    dataset = validate(dataset, crop).dataset
    eval_pairs = [
        _eval_pair(p, cfg.scale, cfg.eval_crop)
        for p in progress_bar(dataset.validation, desc="evaluation pairs", leave=False)
    ]
    if cfg.realism_fd:
        require_evaluation_pairs(
            len(eval_pairs),
            FEATURE_STATISTICS_PAIRS,
            eval_origin,
            "that the Frechet distance of LR features (realism_fd) needs",
            f"lower --paired, pass --eval SPEC with more pairs, or set realism_fd=false{more}",
        )
    source_hr = [_hr_of(ref, cfg.scale) for ref in progress_bar(dataset.source, desc="source HR images", leave=False)]
    paired_lr_hr, paired_levels = [], []
    for pair in dataset.paired:
        low = pair.noisy.load()
        paired_lr_hr.append((low, _hr_of(pair.clean, cfg.scale)))
        paired_levels.append(noise_level_of_arrays(low, pair.clean.load()))
    lr_sizes = [(low.shape[1], low.shape[0]) for low, _ in paired_lr_hr]
    lr_sizes += [(hr.shape[1] // cfg.scale, hr.shape[0] // cfg.scale) for hr in source_hr]
    require_crop_fits(lr_sizes, cfg.sr.lr_crop, "sr.lr_crop", "the SR networks' training images (in LR pixels)")
    return SRData(str(manifest), dataset, eval_pairs, eval_origin, source_hr, paired_lr_hr, paired_levels, simulated)


# --------------------------------------------------------------------------- SeNM-VAE runs and degradations
def plan_sr_runs(cfg: SRBenchmarkConfig) -> list[RunPlan]:
    main: list[tuple[str, str | None]] = []
    if cfg.init is None or cfg.from_scratch:
        main.append(("senmvae", None))
    if cfg.init is not None:
        main.append(("senmvae_finetuned", cfg.init))
    return [RunPlan(name, cfg.budget_minutes * cfg.shares.senmvae / len(main), init) for name, init in main]


@dataclass
class DegradationRows:
    models: dict[str, Degradation]
    senmvae: list[str]  # the rows that are SeNM-VAE models
    fitted: dict[str, dict]  # what was fitted or drawn, for results.json


def build_degradations(cfg: SRBenchmarkConfig, runs: dict[str, Path], data: SRData) -> DegradationRows:
    models: dict[str, Degradation] = {}
    senmvae_rows = []
    fitted: dict[str, dict] = {}
    for run, run_dir in runs.items():
        first = NoiseModel.load(run_dir, device=cfg.device)
        predicted = [first.predict_level(ref.load()) for ref in progress_bar(data.dataset.target, desc="target levels")]
        policy = ChoiceLevel(tuple(data.paired_levels + predicted), origin="paired std and predicted target std")
        fitted[run] = {
            "paired_level_8bit": round(255 * float(np.mean(data.paired_levels)), 3),
            "predicted_target_level_8bit": round(255 * float(np.mean(predicted)), 3),
        }
        for sampler in cfg.samplers:
            model = NoiseModel(
                first.network, level=policy, device=cfg.device, sampler=sampler, match_level=first.match_level
            )
            models[sampler_row(run, sampler)] = NoiseOnBicubic(model)
            senmvae_rows.append(sampler_row(run, sampler))
    paired = [(p.clean.load(), p.noisy.load()) for p in data.dataset.paired]  # (B(HR), real LR)
    awgn = AWGN.fit(paired)
    fitted["bicubic_gaussian"] = {"std_8bit": round(255 * awgn.std, 3), "fitted_on": f"{len(data.paired_lr_hr)} pairs"}
    colored = ColoredHeteroscedasticGaussian.fit(paired)
    fitted["bicubic_colored_gaussian"] = {
        "a": colored.line.a,
        "b": colored.line.b,
        "kernel_size": colored.kernel.shape[-1],
        "fitted_on": f"{len(data.paired_lr_hr)} pairs",
    }
    second = SecondOrderConfig.from_yaml(cfg.second_order_config) if cfg.second_order_config else SecondOrderConfig()
    models["bicubic"] = Bicubic()
    models["bicubic_gaussian"] = NoiseOnBicubic(awgn)
    models["bicubic_colored_gaussian"] = NoiseOnBicubic(colored)
    models["second_order"] = SecondOrder(second, cfg.scale)
    fitted["second_order"] = {"config": cfg.second_order_config or "Real-ESRGAN defaults"}
    return DegradationRows(models, senmvae_rows, fitted)


def _tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).permute(2, 0, 1)[None]


def _array(image: torch.Tensor) -> np.ndarray:
    return image[0].permute(1, 2, 0).numpy()


def synthesize_eval_lr(rows: DegradationRows, eval_pairs: list[EvalPair], seed: int) -> dict[str, list[np.ndarray]]:
    """Every degradation model's LR version of each evaluation HR image (SeNM-VAE and the Gaussian at the
    image's true level, the std of its real LR - B(HR)), one seeded stream per (model, image)."""
    synthetic: dict[str, list[np.ndarray]] = {}
    for name, model in progress_bar(rows.models.items(), desc="synthesizing evaluation LR images", leave=False):
        images = []
        for pair in eval_pairs:
            generator = stream_generator(seed, f"sr/{name}/{pair.name}")
            at_level = NoiseOnBicubic(model.noise_source, pair.level) if isinstance(model, NoiseOnBicubic) else model
            images.append(_array(at_level(_tensor(pair.high), _tensor(pair.bicubic), generator)))
        synthetic[name] = images
    return synthetic


def lr_realism(
    synthetic: list[np.ndarray], eval_pairs: list[EvalPair], real_features: metrics.FeatureStatistics | None
) -> dict[str, float]:
    """How close synthetic LR images are to the real ones, both measured against B(HR) (docs/metrics.md),
    the structure of LR - B(HR) included; with the real images' EfficientNet-Lite0 statistics, also the
    Frechet distance of the LR images."""
    real = [p.low for p in eval_pairs]
    clean = [p.bicubic for p in eval_pairs]
    triples = list(zip(synthetic, real, clean))
    optional = {}
    if real_features is not None:
        optional["fd_effnet_lite0"] = float(metrics.fd_effnet_lite0(synthetic, real_features))
    return (
        optional
        | {
            "kl_noise_neca": float(metrics.kl_noise_histogram(synthetic, real, clean, convention="neca")),
            "akld_danet": float(np.mean([float(metrics.akld_danet(s, r, c)[0]) for s, r, c in triples])),
            "akld_reverse": float(np.mean([float(metrics.akld_reverse(s, r, c)[0]) for s, r, c in triples])),
            "lr_level_8bit": float(np.mean([noise_level_of_arrays(s, c) for s, c in zip(synthetic, clean)]) * 255),
        }
        | metrics.compare_structure(
            metrics.noise_structure(synthetic, clean), metrics.noise_structure(real, clean), include_real=False
        )
    )


# --------------------------------------------------------------------------- SR networks
def distances(cfg: SRBenchmarkConfig) -> dict[str, nn.Module]:
    from senmvae.features import LPIPS, DeepFeatureDistance

    found: dict[str, nn.Module] = {"effnet_distance": DeepFeatureDistance()}
    if cfg.lpips_backbone:
        found["lpips_alex"] = LPIPS.from_files(cfg.lpips_backbone, cfg.lpips_linear)
    return found


@dataclass
class SRResult:
    scores: dict[str, float]
    outputs: list[np.ndarray]
    curve: dict[str, list[float]]


def train_and_score(
    cfg: SRBenchmarkConfig,
    name: str,
    crops: SRCropSource,
    cap_s: float,
    eval_pairs: list[EvalPair],
    measures: dict[str, nn.Module],
) -> SRResult:
    sr_cfg = cfg.sr.replace(time_budget_s=cap_s, seed=cfg.seed)
    _say(f"SR network for {name}: {sr_cfg.steps} steps (at most {cap_s:.0f} s)")
    model, history = train_sr(sr_cfg, crops, desc=f"SR {name}")
    scores, outputs = evaluate_sr(model, [(p.low, p.high) for p in eval_pairs], cfg.border_pixels, measures)
    scores |= {"sr_steps": float(history.steps), "sr_minutes": round(history.wall_s / 60.0, 2)}
    if history.stopped_by_time:
        _say(f"SR network for {name} stopped by its time cap after {history.steps} of {sr_cfg.steps} steps")
    return SRResult(scores, outputs, {"step": [float(s) for s in history.step], "loss": list(history.loss)})


@dataclass
class SRBenchmarkResult:
    """What results.json holds."""

    models: dict[str, dict[str, float]]
    model_order: list[str]
    data: dict
    degradations: dict[str, dict]
    timing: dict[str, float]
    machine: str
    config: dict
    runs: dict[str, dict]
    verdict: dict

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def verdict(models: dict[str, dict[str, float]], senmvae_rows: list[str], competitors: list[str]) -> dict:
    """Which degradation model's SR network scores best on PSNR-Y, and SeNM-VAE's best row against the best other."""
    ranked = sorted(competitors, key=lambda n: models[n]["psnr_y"], reverse=True)
    best_senmvae = max(senmvae_rows, key=lambda n: models[n]["psnr_y"]) if senmvae_rows else None
    others = [n for n in ranked if n not in senmvae_rows]
    summary = {"ranking_psnr_y": ranked, "winner_psnr_y": ranked[0] if ranked else None}
    if best_senmvae is not None and others:
        margin = models[best_senmvae]["psnr_y"] - models[others[0]]["psnr_y"]
        summary |= {
            "best_senmvae": best_senmvae,
            "best_other": others[0],
            "senmvae_margin_psnr_y_db": round(margin, 3),
            "senmvae_margin_ssim_y": round(models[best_senmvae]["ssim_y"] - models[others[0]]["ssim_y"], 4),
        }
    return summary


def _windows(eval_pairs: list[EvalPair], count: int, size: int, seed: int) -> list[tuple[int, int, int]]:
    rng = np.random.default_rng(seed)
    size = min(size, *(min(p.low.shape[:2]) for p in eval_pairs))
    windows = []
    for _ in range(count):
        i = int(rng.integers(len(eval_pairs)))
        h, w = eval_pairs[i].low.shape[:2]
        windows.append((i, int(rng.integers(h - size + 1)), int(rng.integers(w - size + 1))))
    return windows


def _cut(images: list[np.ndarray], windows: list[tuple[int, int, int]], size: int, factor: int = 1) -> np.ndarray:
    return np.stack(
        [images[i][factor * t : factor * (t + size), factor * x : factor * (x + size)] for i, t, x in windows]
    )


def run_sr_benchmark(cfg: SRBenchmarkConfig, out: str | Path) -> dict:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    clock = StageClock()
    budget_s = cfg.budget_minutes * 60.0

    plans = plan_sr_runs(cfg)
    run_configs = checked_run_configs(cfg, plans, str(out / SPLIT_NAME)).values()
    load_metric_weights(None, cfg.lpips_backbone, cfg.lpips_linear)
    data = prepare_sr_data(cfg, out, max(c.data.crop for c in run_configs))
    ds = data.dataset
    _say(
        f"split: {len(ds.paired)} paired, {len(ds.source)} source HR, {len(ds.target)} target LR; "
        f"evaluating on {len(data.eval_pairs)} pairs ({data.eval_origin})"
    )
    clock.lap("data_s")

    runs: dict[str, Path] = {}
    for plan in plans:
        runs[plan.name] = train_senmvae(cfg, plan, data.train_spec, out)
        clock.lap(f"{plan.name}_training_s")

    rows = build_degradations(cfg, runs, data)
    synthetic = synthesize_eval_lr(rows, data.eval_pairs, cfg.seed)
    real_features = metrics.effnet_lite0_statistics([p.low for p in data.eval_pairs]) if cfg.realism_fd else None
    results = {
        name: lr_realism(images, data.eval_pairs, real_features)
        for name, images in progress_bar(synthetic.items(), desc="LR realism", leave=False)
    }
    clock.lap("synthesis_and_realism_s")

    networks = [*rows.models, REAL_PAIRS]
    remaining = budget_s - clock.elapsed()
    cap_s = max(60.0, min(budget_s * cfg.shares.sr_networks, remaining * 0.9) / len(networks))
    measures = distances(cfg)
    outputs: dict[str, list[np.ndarray]] = {}
    curves: dict[str, dict[str, list[float]]] = {name: training_curves(run_dir) for name, run_dir in runs.items()}
    sr_curves: dict[str, list[float]] = {}
    curves["SR networks (training loss)"] = sr_curves
    for name in networks:
        crops = (
            RealSRCrops(data.paired_lr_hr, cfg.scale)
            if name == REAL_PAIRS
            else SynthesizedSRCrops(rows.models[name], data.source_hr, cfg.scale)
        )
        result = train_and_score(cfg, name, crops, cap_s, data.eval_pairs, measures)
        results.setdefault(name, {}).update(result.scores)
        outputs[name] = result.outputs
        sr_curves.setdefault("step", result.curve["step"])
        sr_curves[name] = result.curve["loss"]
    scores, outputs[INTERPOLATION] = evaluate_sr(
        None, [(p.low, p.high) for p in data.eval_pairs], cfg.border_pixels, measures
    )
    # the real LR images' own level and noise structure, for the LR realism columns
    real_structure = metrics.noise_structure([p.low for p in data.eval_pairs], [p.bicubic for p in data.eval_pairs])
    results[INTERPOLATION] = (
        scores | {"lr_level_8bit": float(np.mean([p.level for p in data.eval_pairs]) * 255)} | real_structure.summary()
    )
    clock.lap("sr_networks_s")
    clock.finish()

    competitors = [*rows.models]
    steps = {results[n]["sr_steps"] for n in networks}
    result = SRBenchmarkResult(
        models=results,
        model_order=[*networks, INTERPOLATION],
        data={
            "train": str(cfg.train),
            "simulated": data.simulated,
            "origin": ds.origin,
            "eval": data.eval_origin,
            "paired": len(ds.paired),
            "source": len(ds.source),
            "target": len(ds.target),
            "eval_pairs": len(data.eval_pairs),
            "eval_lr_sizes": sorted({f"{p.low.shape[1]}x{p.low.shape[0]}" for p in data.eval_pairs}),
            "real_lr_level_8bit": round(float(np.mean([p.level for p in data.eval_pairs])) * 255, 3),
            "scale": cfg.scale,
            "border": cfg.border_pixels,
            "psnr_ssim": "on 8-bit SR output, Y (BT.601 studio range) and RGB, border cut",
        },
        degradations=rows.fitted,
        timing=clock.timing,
        machine=f"{os.cpu_count()} CPU cores, torch {torch.__version__}, device {cfg.device}",
        config=cfg.to_dict(),
        runs={plan.name: run_summary(plan, runs[plan.name]) for plan in plans},
        verdict=verdict(results, rows.senmvae, competitors) | {"equal_sr_steps": len(steps) == 1},
    )
    document = result.to_dict()
    write_text_atomic(out / "results.json", json.dumps(document, indent=1, default=jsonable) + "\n")
    write_text_atomic(out / "results.md", markdown_table(document) + "\n")

    size = min(cfg.report_crop_size, *(min(p.low.shape[:2]) for p in data.eval_pairs))
    windows = _windows(data.eval_pairs, cfg.report_crops, size, cfg.seed)
    real_low = [p.low for p in data.eval_pairs]
    lr_crops = {"B(HR)": _cut([p.bicubic for p in data.eval_pairs], windows, size)}
    lr_crops["real LR"] = _cut(real_low, windows, size)
    lr_crops |= {name: _cut(images, windows, size) for name, images in synthetic.items()}
    repeated = [np.kron(low, np.ones((cfg.scale, cfg.scale, 1))) for low in real_low]  # LR pixels shown at HR size
    sr_crops = {"LR input": _cut(repeated, windows, size, cfg.scale)}
    sr_crops |= {name: _cut(images, windows, size, cfg.scale) for name, images in outputs.items()}
    sr_crops["HR"] = _cut([p.high for p in data.eval_pairs], windows, size, cfg.scale)
    write_sr_report(out / "report.html", SRReportData(document, lr_crops, sr_crops, curves))
    return document


# (metric, label, digits, higher is better)
SR_COLUMNS = [
    ("psnr_y", "PSNR-Y dB", 2, True),
    ("ssim_y", "SSIM-Y", 4, True),
    ("psnr_rgb", "PSNR-RGB dB", 2, True),
    ("ssim_rgb", "SSIM-RGB", 4, True),
    ("lpips_alex", "LPIPS", 4, False),
    ("effnet_distance", "EffNet dist.", 4, False),
    ("kl_noise_neca", "LR KL noise", 4, False),
    ("akld_danet", "LR AKLD", 3, False),
    ("fd_effnet_lite0", "LR FD EffNet", 1, False),
    ("lr_level_8bit", "LR level (8-bit)", 2, None),
    ("lag1", "LR lag-1 corr.", 3, None),
    ("channels", "LR channel corr.", 3, None),
    ("spectrum_distance", "LR spectrum dist.", 3, False),
    ("checkerboard_ratio", "LR checkerboard ratio", 2, None),
    ("sr_steps", "SR steps", 0, None),
]


def markdown_table(document: dict) -> str:
    models = document["models"]
    columns = [c for c in SR_COLUMNS if any(c[0] in row for row in models.values())]
    arrow = {True: " ↑", False: " ↓", None: ""}
    lines = [
        "| degradation model | " + " | ".join(label + arrow[better] for _, label, _, better in columns) + " |",
        "|---|" + "---:|" * len(columns),
    ]
    for name in document["model_order"]:
        row = models[name]
        cells = [
            f"{row[key]:.{digits}f}" if key in row and math.isfinite(row[key]) else "–" for key, _, digits, _ in columns
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    v = document["verdict"]
    lines.append("")
    if "best_senmvae" in v:
        lines.append(
            f"Best SeNM-VAE row {v['best_senmvae']} against the best other degradation model {v['best_other']}: "
            f"{v['senmvae_margin_psnr_y_db']:+.2f} dB PSNR-Y, {v['senmvae_margin_ssim_y']:+.4f} SSIM-Y."
        )
    if not v.get("equal_sr_steps", True):
        lines.append("WARNING: the SR networks did not all train for the same number of steps (time cap reached).")
    if document["data"].get("simulated"):
        lines.append("Data: the SIMULATED real-world SR set, not AIM 2019 / NTIRE 2020.")
    return "\n".join(lines)
