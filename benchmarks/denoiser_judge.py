"""Which noise model trains the better denoiser? The paper's Table 1 protocol on a real paired set.

For a real paired set (``--data``: RENOIR, PolyU, Nam or any folder of clean/ + noisy/ pairs)
the held-out pairs are the validation pairs of the benchmark's scene-grouped split
(``senmvae.evaluation.fidelity.benchmark_split``: RENOIR and Nam 8 pairs, PolyU 21 pairs of 6
scenes), scored as whole images; every other pair is a training pair
(``senmvae.evaluation.fidelity.training_pairs``). Each noise source makes synthetic training
pairs from the TRAINING pairs' clean images, each image at its own real noise level (the std of
its noisy - clean), so only the noise differs from training on the real training pairs:

* ``awgn``, ``heteroscedastic`` and ``colored``: the three Gaussian baselines, fitted on the
  training pairs;
* every SeNM-VAE model given as an argument (a shipped name, a run folder or a .safetensors
  file), once per sampler of ``--samplers``;
  with ``--parts``, also with one noise part alone (``zn`` or ``pixel``), so the table shows what
  each component is worth downstream;
* ``real``: the real training pairs themselves;
* with ``--probes``, Gaussian noise that knows more than a fitted model can, to measure how far
  any Gaussian noise could still go on this judge: ``placement-oracle`` (the colored
  Gaussian's colouring times each training image's real local noise std: the std of its real
  noise, high-passed by a 9x9 mean, in a 9x9 window; each draw rescaled to the image's level),
  ``own-colouring`` (a colored Gaussian fitted on each training pair alone draws that image's
  noise) and ``colored-7x7`` (the colored Gaussian with a 7x7 filter, the pixel-noise head's
  size, instead of 15x15).

For each source and seed a DnCNN of the project's class (depth 8, width 48, 2x2 unshuffle;
batch 8 of 64x64 crops with flips and rotations, ``--steps`` steps, lr 1e-3 cosine) trains on
synthetic pairs only and is scored (PSNR, SSIM) on the held-out real pairs. The synthetic pairs
are made up front, once per source and seed: ``--draws`` noisy versions of every training clean
image (a pool the crops are cut from, as from the real pairs), each version from its own stream
(seed, image, version) that does not depend on the source, so the Gaussians draw the same white
noise. A pool rather than fresh noise per crop: fresh noise for 2000 steps of 8 crops would cost
SeNM-VAE about four times the synthesis (and, kept in memory, gigabytes), while 4 versions
already give each noise realisation only a few crops. Every denoiser then trains the same steps
at the same cost per step.

The table prints, per source, the mean PSNR and SSIM over the seeds +- their sample standard
deviation, the PSNR range (min-max), the gain over the noisy input, the steps, and the time;
``--json OUT`` also writes every seed's figures.

    OMP_NUM_THREADS=1 python benchmarks/denoiser_judge.py --data ../shared/data/renoir --seeds 3 --json renoir.json
    python benchmarks/denoiser_judge.py --data ../shared/data/polyu base polyu --samplers content-exact
    python benchmarks/denoiser_judge.py --data ../shared/data/renoir --baselines colored --probes placement-oracle
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from senmvae.atomic import write_text_atomic
from senmvae.baselines import AWGN, ColoredHeteroscedasticGaussian, HeteroscedasticGaussian, load_pairs
from senmvae.baselines.oracle import content_key
from senmvae.downstream import (
    MIN_REAL_GAIN_DB,
    DnCNNConfig,
    PairCrops,
    evaluate_denoiser,
    seed_spread,
    synthesize_pairs,
    train_denoiser,
)
from senmvae.errors import UserError
from senmvae.evaluation.fidelity import benchmark_split, training_pairs
from senmvae.generate import NoiseModel
from senmvae.generate.noise_model import NOISE_PARTS, SAMPLERS
from senmvae.metrics import psnr, ssim
from senmvae.noise_level import noise_level_of_arrays

BASELINES = ("awgn", "heteroscedastic", "colored")
PROBES = ("placement-oracle", "own-colouring", "colored-7x7")
PLACEMENT_WINDOW = 9
REAL = "real"
# The DnCNN of the experiment: deeper and wider than the benchmark's default (depth 5,
# width 32), so that it can use the noise's spatial and cross-channel structure.
JUDGE_DNCNN = {"depth": 8, "width": 48, "unshuffle": 2, "batch_size": 8, "crop": 64}


def fit_baseline(name: str, pairs: list[tuple[np.ndarray, np.ndarray]]):
    kind = {"awgn": AWGN, "heteroscedastic": HeteroscedasticGaussian, "colored": ColoredHeteroscedasticGaussian}
    return kind[name].fit(pairs)


class PerTrainingImage:
    """A probe's noise for each training image, chosen by the image's content: ``draw(key, clean,
    level, generator)`` makes it; any other image is refused."""

    def __init__(self, keys: list[str], draw):
        self.keys, self.draw = set(keys), draw

    def sample(self, clean: torch.Tensor, level=None, temperature: float = 1.0, generator=None) -> torch.Tensor:
        key = content_key(clean[0].permute(1, 2, 0).cpu().numpy())
        if key not in self.keys:
            raise UserError("a probe can only draw noise for the judge's own training images")
        return (clean + temperature * self.draw(key, clean, level, generator)).clamp(0.0, 1.0)


def real_local_std(clean: np.ndarray, noisy: np.ndarray) -> torch.Tensor:
    """(1, 3, H, W): the std of the real noise, high-passed by a window mean, in a window."""
    noise = torch.from_numpy(noisy - clean).float().permute(2, 0, 1)[None]
    pad = PLACEMENT_WINDOW // 2
    noise = noise - F.avg_pool2d(noise, PLACEMENT_WINDOW, 1, pad, count_include_pad=False)
    return F.avg_pool2d(noise * noise, PLACEMENT_WINDOW, 1, pad, count_include_pad=False).clamp_min(1e-8).sqrt()


def probe_source(name: str, train: list[tuple[np.ndarray, np.ndarray]]):
    if name == "colored-7x7":
        return ColoredHeteroscedasticGaussian.fit(train, kernel_size=7)
    keys = [content_key(clean) for clean, _ in train]
    if name == "own-colouring":
        fits = {key: ColoredHeteroscedasticGaussian.fit([pair]) for key, pair in zip(keys, train)}

        def draw(key, clean, level, generator):
            return fits[key].sample(clean, level=level, generator=generator) - clean

        return PerTrainingImage(keys, draw)
    colouring = ColoredHeteroscedasticGaussian.fit(train)
    stds = {key: real_local_std(clean, noisy) for key, (clean, noisy) in zip(keys, train)}

    def placed(key, clean, level, generator):
        noise = colouring.coloured_noise(clean.shape, clean, generator) * stds[key].to(clean)
        return noise if level is None else noise * (float(level) / float(noise.std()))

    return PerTrainingImage(keys, placed)


def noise_sources(args: argparse.Namespace, train: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, object]:
    """Every source in table order; ``None`` stands for the real training pairs."""
    sources: dict[str, object] = {name: fit_baseline(name, train) for name in args.baselines}
    for model in args.models:
        for sampler in args.samplers:
            for parts in args.parts:
                label = sampler if parts == "all" else f"{sampler}, {parts} alone"
                chosen = NOISE_PARTS if parts == "all" else (parts,)
                sources[f"{model} ({label})"] = NoiseModel.load(model, sampler=sampler, parts=chosen)
    for probe in args.probes:
        sources[f"probe: {probe}"] = probe_source(probe, train)
    if args.real:
        sources[REAL] = None
    return sources


def judge_source(
    name: str, source, train, names, levels, held_out, config: DnCNNConfig, seeds: list[int], draws: int, quiet: bool
) -> dict:
    """Train and score one DnCNN per seed on ``source``'s pairs; the figures of every seed and their spread."""
    runs = []
    for seed in seeds:
        start = time.perf_counter()
        pairs = train if source is None else synthesize_pairs(source, [c for c, _ in train], names, draws, seed, levels)
        synthesis_s = time.perf_counter() - start
        model, history = train_denoiser(config.replace(seed=seed), PairCrops(pairs), progress=not quiet)
        start = time.perf_counter()
        scores = evaluate_denoiser(model, held_out)
        runs.append({
            "seed": seed,
            "psnr": scores["psnr"],
            "ssim": scores["ssim"],
            "steps": history.steps,
            "synthesis_s": round(synthesis_s, 1),
            "train_s": round(history.wall_s, 1),
            "evaluation_s": round(time.perf_counter() - start, 1),
        })  # fmt: skip
        if not quiet:
            print(f"  {name}, seed {seed}: {scores['psnr']:.2f} dB, SSIM {scores['ssim']:.4f}, {history.steps} steps")
    return {
        "psnr": seed_spread([r["psnr"] for r in runs]),
        "ssim": seed_spread([r["ssim"] for r in runs]),
        "steps": sorted({r["steps"] for r in runs}),
        "seconds": round(sum(r["synthesis_s"] + r["train_s"] + r["evaluation_s"] for r in runs), 1),
        "runs": runs,
    }


def _mean_std(spread: dict, digits: int) -> str:
    text = f"{spread['mean']:.{digits}f}"
    return text + (f" ± {spread['std']:.{digits}f}" if "std" in spread else "")


def table(result: dict) -> str:
    lines = [
        "| training noise | PSNR dB | PSNR range | SSIM | gain dB | steps | minutes |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in result["sources"].items():
        psnr = row["psnr"]
        lines.append(
            f"| {name} | {_mean_std(psnr, 2)} | {psnr['min']:.2f}-{psnr['max']:.2f} | {_mean_std(row['ssim'], 4)} | "
            f"{psnr['mean'] - result['input_psnr']:+.2f} | {'/'.join(map(str, row['steps']))} | "
            f"{row['seconds'] / 60:.1f} |"
        )
    lines.append(f"| noisy input | {result['input_psnr']:.2f} | | {result['input_ssim']:.4f} | | | |")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> dict:
    if args.seeds < 1 or args.draws < 1:
        raise UserError(f"--seeds and --draws must be at least 1, got {args.seeds} and {args.draws}")
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    config = DnCNNConfig(**JUDGE_DNCNN, steps=args.steps).with_overrides(args.set)
    records = training_pairs(args.data)
    held_records = sorted(benchmark_split(args.data).validation, key=lambda p: p.name)
    if not records or not held_records:
        raise UserError(f"{args.data} needs pairs both in and outside the benchmark's held-out scenes")
    train, held_out = load_pairs(records), load_pairs(held_records)
    names = [p.name for p in records]
    levels = [noise_level_of_arrays(noisy, clean) for clean, noisy in train]
    seeds = list(range(args.seeds))
    input_psnr = float(np.mean([float(psnr(noisy, clean)) for clean, noisy in held_out]))
    input_ssim = float(np.mean([float(ssim(noisy, clean)) for clean, noisy in held_out]))
    print(
        f"{args.data}: {len(train)} training pairs -> {len(held_out)} held-out pairs (whole images), "
        f"noisy input {input_psnr:.2f} dB; DnCNN depth {config.depth}, width {config.width}, "
        f"unshuffle {config.unshuffle}, {config.steps} steps of {config.batch_size} {config.crop}x{config.crop} "
        f"crops; seeds {seeds}; {args.draws} noisy versions per clean image; {args.threads} thread(s)"
    )
    sources = noise_sources(args, train)
    rows = {
        name: judge_source(name, source, train, names, levels, held_out, config, seeds, args.draws, args.quiet)
        for name, source in sources.items()
    }
    steps = sum(r["steps"] for row in rows.values() for r in row["runs"])
    train_s = sum(r["train_s"] for row in rows.values() for r in row["runs"])
    result = {
        "data": str(args.data),
        "training_pairs": len(train),
        "held_out_pairs": len(held_out),
        "held_out": "whole images of benchmark_split(data).validation",
        "input_psnr": input_psnr,
        "input_ssim": input_ssim,
        "denoiser": config.to_dict(),
        "seeds": seeds,
        "draws": args.draws,
        "spread": "sample standard deviation over the seeds (ddof 1), and min-max",
        "sources": rows,
        "ms_per_step": round(1000 * train_s / max(steps, 1), 1),
        "minutes": round((time.perf_counter() - started) / 60, 2),
        "threads": args.threads,
        "machine": f"{os.cpu_count()} CPU cores, torch {torch.__version__}",
    }
    if REAL in rows:
        gain = rows[REAL]["psnr"]["mean"] - input_psnr
        result["real_gain_db"] = round(gain, 3)
        result["valid"] = bool(gain >= MIN_REAL_GAIN_DB)
    return result


def main(argv: list[str] | None = None) -> int:
    args = get_args_parser().parse_args(argv)
    try:
        result = run(args)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(table(result))
    print(
        f"PSNR and SSIM: mean over {len(result['seeds'])} seed(s) ± sample std; range: min-max over the seeds. "
        f"{result['ms_per_step']} ms per denoiser step; the whole run took {result['minutes']:.1f} min "
        f"({result['machine']}, {result['threads']} thread(s))."
    )
    if "valid" in result:
        verdict = "meaningful" if result["valid"] else f"INVALID (needs >= {MIN_REAL_GAIN_DB} dB)"
        print(f"The real-pair denoiser gains {result['real_gain_db']:+.2f} dB: the comparison is {verdict}.")
    if args.json:
        write_text_atomic(Path(args.json), json.dumps(result, indent=1) + "\n")
    return 0


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="*", help="SeNM-VAE models: shipped names, run folders or .safetensors files")
    parser.add_argument("--data", required=True, help="a real paired set, e.g. ../shared/data/renoir")
    parser.add_argument("--samplers", nargs="+", choices=SAMPLERS, default=list(SAMPLERS), help="SeNM-VAE samplers")
    parser.add_argument(
        "--baselines", nargs="*", choices=BASELINES, default=list(BASELINES), help="Gaussian baselines (default all)"
    )
    parser.add_argument(
        "--parts",
        nargs="+",
        choices=("all", *NOISE_PARTS),
        default=["all"],
        help="which noise of each model: all (default), or one part alone (zn: the degradation latents; "
        "pixel: the pixel-noise head), for the downstream share of each component",
    )
    parser.add_argument("--no-real", dest="real", action="store_false", help="leave out the real training pairs")
    parser.add_argument(
        "--probes",
        nargs="*",
        choices=PROBES,
        default=[],
        help="Gaussian noise that knows more than a fitted model can (see the module docstring): how far "
        "any Gaussian noise could still go on this judge",
    )
    parser.add_argument("--steps", type=int, default=2000, help="training steps of every denoiser (default 2000)")
    parser.add_argument("--seeds", type=int, default=3, help="denoisers per source, seeds 0..N-1 (default 3)")
    parser.add_argument("--draws", type=int, default=4, help="noisy versions of each clean image (default 4)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a DnCNNConfig override")
    parser.add_argument("--json", help="also write the result to this JSON file")
    parser.add_argument("--quiet", action="store_true", help="no progress bars or per-seed lines")
    return parser


if __name__ == "__main__":
    sys.exit(main())
