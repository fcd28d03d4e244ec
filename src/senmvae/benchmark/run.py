"""``senmvae benchmark``: how realistic is each noise model, and how good a denoiser does it train?

Stages, each within its share of the wall-clock budget:

1. data: split the training collection by scene (N paired, the rest halved into source clean
   and target noisy, a share of scenes held out for evaluation unless ``--eval`` is given);
2. SeNM-VAE on the split, and the same model on the paired samples alone;
3. the baselines (AWGN, heteroscedastic Gaussian) fitted on the paired samples, and the real
   noise itself (oracle);
4. noisy versions of every evaluation clean image from each model (SeNM-VAE conditioned on
   each image's true noise std, and separately on the std its level predictor reads off the
   real noisy image) and the realism metrics against the real noisy images;
5. one DnCNN per noise model, trained with the same budget on pairs synthesized from the
   source-domain clean images plus the real paired crops (the oracle: real pairs only), and
   tested on the evaluation pairs.

Writes ``results.json``, ``results.md`` and ``report.html`` in the output folder.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from senmvae.baselines import AWGN, HeteroscedasticGaussian, RealNoiseOracle
from senmvae.benchmark.config import BenchmarkConfig
from senmvae.benchmark.report import write_report
from senmvae.benchmark.report_data import ReportData
from senmvae.data import Pair, SemiSupervisedSet, build_split, load_spec, validate, write_manifest
from senmvae.downstream import MIN_REAL_GAIN_DB, denoise_image, evaluate_denoiser, train_denoiser, training_crops
from senmvae.errors import UserError
from senmvae.generate import NoiseModel
from senmvae.generate.base import NoiseSource
from senmvae.generate.levels import ChoiceLevel
from senmvae.generate.seeding import stream_generator
from senmvae import metrics

MODEL_ORDER = ["senmvae", "senmvae_paired_only", "awgn", "heteroscedastic", "real"]
SENMVAE_RUNS = ("senmvae", "senmvae_paired_only")
PREDICTED = "_predicted_level"


def _say(message: str) -> None:
    tqdm.write(f"[benchmark] {message}")


@dataclass
class EvalSet:
    names: list[str]
    clean: torch.Tensor  # (N, 3, H, W)
    noisy: torch.Tensor

    @property
    def levels(self) -> torch.Tensor:
        return (self.noisy - self.clean).flatten(1).std(dim=1)

    def pairs(self) -> list[tuple[np.ndarray, np.ndarray]]:
        return [(_hwc(c), _hwc(n)) for c, n in zip(self.clean, self.noisy)]


def _hwc(image: torch.Tensor) -> np.ndarray:
    return image.permute(1, 2, 0).numpy()


def _chw(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).permute(2, 0, 1)


def _centre_crop(image: np.ndarray, size: int, multiple: int) -> np.ndarray:
    h, w = image.shape[:2]
    side_h = min(h, size) if size else h
    side_w = min(w, size) if size else w
    side_h, side_w = side_h - side_h % multiple, side_w - side_w % multiple
    top, left = (h - side_h) // 2, (w - side_w) // 2
    return image[top : top + side_h, left : left + side_w]


# --------------------------------------------------------------------------- data
@dataclass
class BenchmarkData:
    train_spec: str  # what the SeNM-VAE runs read (a manifest written into the output folder)
    dataset: SemiSupervisedSet
    eval_set: EvalSet
    eval_origin: str
    oracle_pairs: list[Pair]  # real pairs behind the paired and source-domain images


def prepare_data(cfg: BenchmarkConfig, out: Path, crop: int, multiple: int) -> BenchmarkData:
    collection = load_spec(cfg.train)
    held_out_eval = cfg.eval is None
    if collection.source or collection.target:
        dataset = collection  # already semi-supervised (a manifest, YAML spec or the embedded set)
        _say(f"{cfg.train} is already split into domains; --paired does not apply")
    else:
        split = build_split(
            collection, cfg.paired, seed=cfg.seed, validation=cfg.validation_fraction if held_out_eval else 0.0
        )
        dataset = split.dataset
    manifest = write_manifest(out / "split.json", dataset, source_spec=str(cfg.train), seed=cfg.seed, paired_count=cfg.paired)
    dataset = validate(dataset, crop).dataset

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
    crops = [
        (pair.name, _centre_crop(pair.clean.load(), cfg.eval_crop, multiple), _centre_crop(pair.noisy.load(), cfg.eval_crop, multiple))
        for pair in tqdm(eval_pairs, desc="loading evaluation pairs", leave=False)
    ]
    shapes = {c.shape for _, c, _ in crops}
    if len(shapes) > 1:  # stack needs one size: crop all to the smallest
        h, w = min(s[0] for s in shapes), min(s[1] for s in shapes)
        crops = [(n, c[:h, :w], y[:h, :w]) for n, c, y in crops]
    eval_set = EvalSet(
        names=[n for n, _, _ in crops],
        clean=torch.stack([_chw(c) for _, c, _ in crops]),
        noisy=torch.stack([_chw(y) for _, _, y in crops]),
    )
    source_names = {ref.name for ref in dataset.source}
    oracle_pairs = list(dataset.paired) + [p for p in collection.paired if p.clean.name in source_names]
    return BenchmarkData(str(manifest), dataset, eval_set, eval_origin, oracle_pairs)


# --------------------------------------------------------------------------- SeNM-VAE runs
def train_senmvae(cfg: BenchmarkConfig, name: str, train_spec: str, minutes: float, out: Path) -> Path:
    """Train (or reuse a finished) SeNM-VAE run; returns its folder."""
    from senmvae.train.config import train_preset
    from senmvae.train.run import start_run

    run_dir = out / "runs" / name
    if (run_dir / "model.safetensors").is_file() and (run_dir / "benchmark_done").is_file():
        _say(f"{name}: reusing the finished run in {run_dir}")
        return run_dir
    if run_dir.exists():
        import shutil

        shutil.rmtree(run_dir)
    overrides = [
        f"data.spec={train_spec}",
        f"seed={cfg.seed}",
        f"device={cfg.device}",
        f"schedule.max_minutes={minutes}",
        *cfg.train_overrides,
    ]
    if name == "senmvae_paired_only":
        overrides.append("data.frequencies=[1.0, 0.0, 0.0]")
    train_cfg = train_preset(cfg.preset).with_overrides(overrides)
    _say(f"{name}: training the '{cfg.preset}' preset for at most {minutes:.1f} min")
    start_run(train_cfg, run_dir)
    (run_dir / "benchmark_done").write_text("finished\n")
    return run_dir


def _curves(run_dir: Path) -> dict[str, list[float]]:
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        return {}
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    rows = [r for r in rows if r.get("kind") == "train"]
    keys = ("loss", "rec_noisy", "rec_clean", "kl_zn", "level_l1")
    curves: dict[str, list[float]] = {"step": [float(r["step"]) for r in rows]}
    for key in keys:
        if rows and all(key in r for r in rows):
            curves[key] = [float(r[key]) for r in rows]
    return curves


# --------------------------------------------------------------------------- synthesis and metrics
def synthesize(source: NoiseSource, eval_set: EvalSet, level: torch.Tensor | None, seed: int, name: str, temperature: float) -> torch.Tensor:
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
    return optional | {
        "kl_intensity_senmvae": float(metrics.kl_intensity_histogram_senmvae(shown, real)),
        "kl_noise_neca": float(metrics.kl_noise_histogram(synthetic, real, clean, convention="neca")),
        "akld_danet": float(metrics.akld_danet(synthetic, real, clean).mean()),
        "akld_reverse": float(metrics.akld_reverse(synthetic, real, clean).mean()),
        "fd_effnet_lite0": float(metrics.fd_effnet_lite0(shown, real)),
        "noise_std_8bit": float((synthetic - clean).flatten(1).std(dim=1).mean() * 255.0),
    }


def _noise_sample(noisy: torch.Tensor, clean: torch.Tensor, count: int = 200_000) -> np.ndarray:
    noise = (noisy - clean).flatten().numpy()
    rng = np.random.default_rng(0)
    return noise[rng.choice(noise.size, size=min(count, noise.size), replace=False)]


def _report_windows(eval_set: EvalSet, count: int, size: int, seed: int) -> list[tuple[int, int, int]]:
    rng = np.random.default_rng(seed)
    n, _, h, w = eval_set.clean.shape
    size = min(size, h, w)
    return [(int(rng.integers(n)), int(rng.integers(h - size + 1)), int(rng.integers(w - size + 1))) for _ in range(count)]


def _cut(images: torch.Tensor, windows: list[tuple[int, int, int]], size: int) -> np.ndarray:
    size = min(size, images.shape[-2], images.shape[-1])
    return np.stack([_hwc(images[i, :, t : t + size, l : l + size]) for i, t, l in windows])


# --------------------------------------------------------------------------- the whole benchmark
def run_benchmark(cfg: BenchmarkConfig, out: str | Path) -> dict:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    budget_s = cfg.budget_minutes * 60.0
    timing: dict[str, float] = {}

    def lap(stage: str, since: float) -> float:
        now = time.perf_counter()
        timing[stage] = round(now - since, 1)
        return now

    from senmvae.train.config import train_preset

    preset = train_preset(cfg.preset)
    tick = time.perf_counter()
    data = prepare_data(cfg, out, preset.data.crop, preset.model.size_multiple)
    ds = data.dataset
    _say(
        f"split: {len(ds.paired)} paired, {len(ds.source)} source, {len(ds.target)} target; "
        f"evaluating on {len(data.eval_set.names)} pairs ({data.eval_origin})"
    )
    tick = lap("data_s", tick)

    runs = {
        "senmvae": train_senmvae(cfg, "senmvae", data.train_spec, budget_s * cfg.shares.senmvae / 60.0, out),
    }
    tick = lap("senmvae_training_s", tick)
    runs["senmvae_paired_only"] = train_senmvae(
        cfg, "senmvae_paired_only", data.train_spec, budget_s * cfg.shares.senmvae_paired_only / 60.0, out
    )
    tick = lap("senmvae_paired_only_training_s", tick)

    paired_arrays = [(p.clean.load(), p.noisy.load()) for p in ds.paired]
    train_levels = [float(np.std(n - c)) for c, n in paired_arrays]
    sources: dict[str, NoiseSource] = {}
    for name, run_dir in runs.items():
        model = NoiseModel.load(run_dir, device=cfg.device, temperature=cfg.temperature)
        target_levels = [model.predict_level(ref.load()) for ref in ds.target]
        model.level = ChoiceLevel(tuple(train_levels + target_levels), origin="paired std and predicted target std")
        sources[name] = model
    sources["awgn"] = AWGN.fit(paired_arrays)
    sources["heteroscedastic"] = HeteroscedasticGaussian.fit(paired_arrays)
    sources["real"] = RealNoiseOracle.fit(data.oracle_pairs)
    for name in ("awgn", "heteroscedastic"):
        sources[name].save(out / "baselines" / f"{name}.json")

    eval_set = data.eval_set
    synthetic: dict[str, torch.Tensor] = {}
    for name in tqdm(MODEL_ORDER, desc="synthesizing evaluation images", leave=False):
        if name == "real":
            synthetic[name] = eval_set.noisy
        elif name in SENMVAE_RUNS:
            synthetic[name] = synthesize(sources[name], eval_set, eval_set.levels, cfg.seed, name, cfg.temperature)
            predicted = torch.tensor([sources[name].predict_level(_hwc(n)) for n in eval_set.noisy])
            synthetic[name + PREDICTED] = synthesize(sources[name], eval_set, predicted, cfg.seed, name, cfg.temperature)
        else:
            synthetic[name] = synthesize(sources[name], eval_set, None, cfg.seed, name, cfg.temperature)
    results: dict[str, dict[str, float]] = {}
    for name, images in tqdm(synthetic.items(), desc="noise metrics", leave=False):
        results[name] = noise_metrics(images, eval_set, cfg)
    tick = lap("synthesis_and_metrics_s", tick)

    remaining = budget_s - (time.perf_counter() - started)
    per_denoiser = max(30.0, min(budget_s * cfg.shares.denoisers, remaining * 0.9) / len(MODEL_ORDER))
    denoiser_cfg = cfg.denoiser.replace(time_budget_s=per_denoiser, seed=cfg.seed)
    source_clean = [ref.load() for ref in ds.source]
    eval_pairs = eval_set.pairs()
    windows = _report_windows(eval_set, cfg.report_crops, cfg.report_crop_size, cfg.seed)
    # Only the images the report shows are denoised; windows re-indexed into that subset.
    shown_images = sorted({i for i, _, _ in windows})
    shown_windows = [(shown_images.index(i), t, l) for i, t, l in windows]
    denoised_crops: dict[str, np.ndarray] = {}
    curves: dict[str, dict[str, list[float]]] = {name: _curves(run_dir) for name, run_dir in runs.items()}
    for name in MODEL_ORDER:
        _say(f"denoiser for {name}: {per_denoiser:.0f} s or {denoiser_cfg.steps} steps")
        crops = training_crops(sources[name], source_clean, paired_arrays, paired_fraction=cfg.paired_fraction)
        dncnn, history = train_denoiser(denoiser_cfg, crops)
        scores = evaluate_denoiser(dncnn, eval_pairs)
        results[name].update({"psnr": scores["psnr"], "ssim": scores["ssim"], "denoiser_steps": float(history.steps)})
        curves[f"dncnn/{name}"] = {"step": [float(s) for s in history.step], "loss": list(history.loss)}
        denoised = torch.stack([_chw(denoise_image(dncnn, _hwc(eval_set.noisy[i]))) for i in shown_images])
        denoised_crops[name] = _cut(denoised, shown_windows, cfg.report_crop_size)
    input_psnr = metrics.psnr(eval_set.noisy, eval_set.clean)
    input_ssim = metrics.ssim(eval_set.noisy, eval_set.clean)
    results["noisy_input"] = {"psnr": float(input_psnr.mean()), "ssim": float(input_ssim.mean())}
    denoised_crops["noisy_input"] = _cut(eval_set.noisy, windows, cfg.report_crop_size)
    lap("denoisers_s", tick)
    timing["total_s"] = round(time.perf_counter() - started, 1)

    gain = results["real"]["psnr"] - results["noisy_input"]["psnr"]
    document = {
        "models": results,
        "downstream": {
            "real_gain_db": round(gain, 3),
            "min_gain_db": MIN_REAL_GAIN_DB,
            "valid": bool(gain >= MIN_REAL_GAIN_DB),
            "note": (
                "the denoiser trained on real pairs beats the noisy input by "
                f"{gain:.2f} dB; the downstream comparison "
                + ("is meaningful" if gain >= MIN_REAL_GAIN_DB else f"is INVALID (needs >= {MIN_REAL_GAIN_DB} dB)")
            ),
        },
        "data": {
            "train": str(cfg.train),
            "eval": data.eval_origin,
            "paired": len(ds.paired),
            "source": len(ds.source),
            "target": len(ds.target),
            "eval_pairs": len(eval_set.names),
            "eval_size": list(eval_set.clean.shape[-2:]),
        },
        "timing": timing,
        "machine": f"{os.cpu_count()} CPU cores, torch {torch.__version__}, device {cfg.device}",
        "config": cfg.to_dict(),
    }
    _write_json(out / "results.json", document)
    table = markdown_table(document)
    (out / "results.md").write_text(table + "\n")

    windows_crops = {"clean": _cut(eval_set.clean, windows, cfg.report_crop_size), "real": _cut(eval_set.noisy, windows, cfg.report_crop_size)}
    for name in MODEL_ORDER[:-1]:
        windows_crops[name] = _cut(synthetic[name].clamp(0, 1), windows, cfg.report_crop_size)
    report = ReportData(
        results=document,
        model_order=MODEL_ORDER[:-1] + [n + PREDICTED for n in SENMVAE_RUNS] + ["real"],
        crops=windows_crops,
        denoised=denoised_crops,
        nlf={name: metrics.noise_level_function(images, eval_set.clean) for name, images in synthetic.items()},
        nps={name: metrics.noise_power_spectrum(images, eval_set.clean) for name, images in synthetic.items()},
        noise_samples={name: _noise_sample(images, eval_set.clean) for name, images in synthetic.items()},
        curves=curves,
    )
    write_report(out / "report.html", report)
    return document


def _write_json(path: Path, document: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(document, indent=1, default=_jsonable) + "\n")
    os.replace(tmp, path)


def _jsonable(value: object) -> object:
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


COLUMNS = [
    ("psnr", "PSNR dB ↑", 2),
    ("ssim", "SSIM ↑", 4),
    ("kl_intensity_senmvae", "KL intensity (SeNM-VAE) ↓", 4),
    ("kl_noise_neca", "KL noise (NeCA) ↓", 4),
    ("akld_danet", "AKLD DANet ↓", 3),
    ("akld_reverse", "AKLD reverse ↓", 3),
    ("fd_effnet_lite0", "FD EffNet-Lite0 ↓", 2),
    ("noise_std_8bit", "noise std (8-bit)", 2),
]


def markdown_table(document: dict) -> str:
    models = document["models"]
    order = [n for n in MODEL_ORDER[:-1] + [m + PREDICTED for m in SENMVAE_RUNS] + ["real", "noisy_input"] if n in models]
    lines = [
        "| model | " + " | ".join(label for _, label, _ in COLUMNS) + " |",
        "|---|" + "---:|" * len(COLUMNS),
    ]
    for name in order:
        row = models[name]
        cells = [f"{row[key]:.{digits}f}" if key in row and math.isfinite(row[key]) else "–" for key, _, digits in COLUMNS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    d = document["downstream"]
    lines.append("")
    lines.append(f"Downstream validity: {d['note']}.")
    return "\n".join(lines)
