"""Calibrate the downstream DnCNN on real PolyU pairs: does training on real pairs beat the noisy input?

A downstream comparison of noise models is only meaningful when a denoiser trained on the
real pairs clearly beats the noisy input on held-out scenes. This script splits PolyU
(../shared/data/polyu/CroppedImages) by scene, prints the noise statistics of the data,
trains a DnCNN on the real training pairs and prints input PSNR, output PSNR, the gain,
the steps and the training time (wall clock and process CPU seconds; both are noisy on a
shared machine). docs/downstream.md holds the measured table.

    python benchmarks/dncnn_calibration.py --seeds 0 1 2 --references   # the default DnCNNConfig
    python benchmarks/dncnn_calibration.py unshuffle=2 steps=1000         # DnCNNConfig overrides
    python benchmarks/dncnn_calibration.py --pytorch-default-init depth=10 width=48 crop=48 \
        batch_size=16 steps=550 lr_schedule=constant warmup_steps=0       # the uncalibrated recipe
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import numpy as np
import torch
from numpy.lib.stride_tricks import sliding_window_view
from scipy.ndimage import correlate, gaussian_filter

from senmvae.data.io import read_image
from senmvae.downstream import (
    MIN_REAL_GAIN_DB,
    DnCNN,
    DnCNNConfig,
    PairCrops,
    evaluate_denoiser,
    parameter_count,
    train_denoiser,
)

POLYU = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "polyu" / "CroppedImages"


def scene_of(noisy_path: Path) -> str:
    """``<camera>_<f>_<shutter>_<ISO>_<scene>`` without the crop index; one file spells 'plant_' for 'plant'."""
    return re.sub(r"_+\d+_real$", "", noisy_path.stem)


def split_by_scene(root: Path, every: int = 4) -> tuple[list[Path], list[Path]]:
    """Noisy files of the training and held-out scenes: every ``every``-th scene (sorted) is held out."""
    noisy = sorted(root.glob("*_real.JPG"))
    scenes = sorted({scene_of(p) for p in noisy})
    held_out = set(scenes[every - 1 :: every])
    return [p for p in noisy if scene_of(p) not in held_out], [p for p in noisy if scene_of(p) in held_out]


def load(paths: list[Path]) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(read_image(p.with_name(p.name.replace("_real.JPG", "_mean.JPG"))), read_image(p)) for p in paths]


def noise_statistics(pairs: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
    """Mean over images of: input PSNR, noise std, horizontal lag-1 correlation of the noise,
    mean cross-channel correlation."""
    psnrs, stds, lag1, cross = [], [], [], []
    for clean, noisy in pairs:
        noise = noisy.astype(np.float64) - clean
        psnrs.append(10 * np.log10(1 / np.mean(noise**2)))
        stds.append(noise.std())
        noise -= noise.mean(axis=(0, 1))
        left, right = noise[:, :-1], noise[:, 1:]
        lag1.append(float((left * right).mean() / np.sqrt((left**2).mean() * (right**2).mean())))
        corr = np.corrcoef(noise.reshape(-1, 3).T)
        cross.append(float(corr[np.triu_indices(3, 1)].mean()))
    return {
        "input_psnr": float(np.mean(psnrs)),
        "min_input_psnr": float(np.min(psnrs)),
        "max_input_psnr": float(np.max(psnrs)),
        "noise_std": float(np.mean(stds)),
        "lag1_correlation": float(np.mean(lag1)),
        "cross_channel_correlation": float(np.mean(cross)),
    }


def _psnr(image: np.ndarray, reference: np.ndarray) -> float:
    return float(10 * np.log10(1 / np.mean(np.square(image.astype(np.float64) - reference))))


def blur_gain(test: list[tuple[np.ndarray, np.ndarray]], sigma: float) -> float:
    """PSNR gain of a plain Gaussian blur of the noisy images: what a denoiser must beat."""
    return float(np.mean([_psnr(gaussian_filter(n, (sigma, sigma, 0)), c) - _psnr(n, c) for c, n in test]))


def linear_filter_gain(train, test, size: int = 7, samples_per_image: int = 3000, seed: int = 0) -> float:
    """PSNR gain of the linear filter (``size`` x ``size`` x 3 -> 3, plus offset) fitted by least
    squares on training pixels."""
    rng = np.random.default_rng(seed)
    radius = size // 2
    features, targets = [], []
    for clean, noisy in train:
        windows = sliding_window_view(
            np.pad(noisy, ((radius, radius), (radius, radius), (0, 0)), mode="reflect"), (size, size), axis=(0, 1)
        )
        rows = rng.integers(0, noisy.shape[0], samples_per_image)
        cols = rng.integers(0, noisy.shape[1], samples_per_image)
        features.append(windows[rows, cols].reshape(samples_per_image, -1))
        targets.append(clean[rows, cols])
    design = np.concatenate(features).astype(np.float64)
    weights, *_ = np.linalg.lstsq(np.c_[design, np.ones(len(design))], np.concatenate(targets), rcond=None)
    kernels = weights[:-1].reshape(3, size, size, 3)  # input channel, row, column, output channel
    gains = []
    for clean, noisy in test:
        out = np.stack(
            [
                sum(correlate(noisy[..., i], kernels[i, :, :, o], mode="mirror") for i in range(3)) + weights[-1, o]
                for o in range(3)
            ],
            axis=-1,
        )
        gains.append(_psnr(out, clean) - _psnr(noisy, clean))
    return float(np.mean(gains))


def calibrate(config: DnCNNConfig, train, test, pytorch_default_init: bool, quiet: bool) -> dict:
    """Train on the real training pairs, score on the held-out ones."""
    start = time.perf_counter()
    model = None
    if pytorch_default_init:  # the ablation: PyTorch's default conv init instead of He init
        torch.manual_seed(config.seed)
        model = DnCNN(config)
        for layer in model.body:
            if isinstance(layer, torch.nn.Conv2d):
                layer.reset_parameters()
    model, history = train_denoiser(config, PairCrops(train), model=model, progress=not quiet)
    scores = evaluate_denoiser(model, test)
    return {
        "seed": config.seed,
        "steps": history.steps,
        "train_wall_s": round(history.wall_s, 1),
        "train_cpu_s": round(history.cpu_s, 1),
        "total_wall_s": round(time.perf_counter() - start, 1),
        **{k: round(v, 4) for k, v in scores.items()},
        "gain_db": round(scores["psnr"] - scores["input_psnr"], 3),
    }


def main(args: argparse.Namespace) -> int:
    if not POLYU.is_dir():
        print(f"skipped: {POLYU} is absent (the PolyU cropped set is needed)", file=sys.stderr)
        return 0
    torch.set_num_threads(args.threads)
    config = DnCNNConfig().with_overrides(args.overrides)
    train_paths, test_paths = split_by_scene(POLYU)
    train, test = load(train_paths), load(test_paths)
    stats = {"all": noise_statistics(train + test), "train": noise_statistics(train), "test": noise_statistics(test)}
    scenes = len({scene_of(p) for p in test_paths})
    print(f"PolyU: {len(train)} training pairs, {len(test)} held-out pairs ({scenes} scenes)")
    for part, values in stats.items():
        print(f"  {part}: " + ", ".join(f"{k} {v:.3f}" for k, v in values.items()))
    if args.references:
        references = {"gaussian_blur_0.7": blur_gain(test, 0.7), "linear_filter_7x7": linear_filter_gain(train, test)}
        stats["reference_gain_db"] = references
        print(
            "  reference gains on the held-out pairs: " + ", ".join(f"{k} {v:+.2f} dB" for k, v in references.items())
        )
    print(f"DnCNN {config.to_dict()}  ({parameter_count(DnCNN(config))} parameters)")
    runs = []
    for seed in args.seeds or [config.seed]:
        run = calibrate(config.replace(seed=seed), train, test, args.pytorch_default_init, args.quiet)
        runs.append(run)
        print(
            f"seed {seed}: input PSNR {run['input_psnr']:.2f} dB  output PSNR {run['psnr']:.2f} dB  "
            f"gain {run['gain_db']:+.2f} dB  (SSIM {run['input_ssim']:.4f} -> {run['ssim']:.4f})  "
            f"{run['steps']} steps in {run['train_wall_s']:.0f} s of training ({run['train_cpu_s']:.0f} CPU s), "
            f"{run['total_wall_s']:.0f} s with evaluation"
        )
    gains = [run["gain_db"] for run in runs]
    result = {
        "config": config.to_dict(),
        "pytorch_default_init": args.pytorch_default_init,
        "runs": runs,
        "mean_gain_db": round(float(np.mean(gains)), 3),
        "min_gain_db": round(min(gains), 3),
        "valid": min(gains) >= MIN_REAL_GAIN_DB,
        "noise_statistics": stats,
    }
    verdict = "passes" if result["valid"] else "FAILS"
    print(
        f"gain over {len(runs)} seed(s): mean {result['mean_gain_db']:+.2f} dB, min {result['min_gain_db']:+.2f} dB; "
        f"calibration {verdict} (a downstream comparison needs a real-pair gain of at least {MIN_REAL_GAIN_DB} dB)"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("overrides", nargs="*", help="DnCNNConfig overrides, key=value")
    parser.add_argument("--seeds", type=int, nargs="+", help="one training run per seed (default: the config's seed)")
    parser.add_argument(
        "--pytorch-default-init", action="store_true", help="ablation: PyTorch's default conv init instead of He init"
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", help="also write the result to this JSON file")
    parser.add_argument(
        "--references", action="store_true", help="also score a Gaussian blur and the best 7x7 linear filter"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


if __name__ == "__main__":
    sys.exit(main(get_args_parser().parse_args()))
