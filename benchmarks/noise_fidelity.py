"""Noise fidelity of models on held-out PolyU scenes, against fitted Gaussian baselines.

The held-out scenes are those of the benchmark's scene-grouped split (``--paired 10``,
validation fraction 0.25, seed 0): no model trained by ``senmvae benchmark`` or shipped as
``polyu`` saw them. Every image is conditioned on its true noise level, one draw per image,
centre 256x256. For each model both samplers are printed (the paper's and content-exact),
at temperature 1 and 0. With ``--seeds N`` every row is drawn N times (seeds 0..N-1, the
Gaussians too) and each figure is printed as mean +- standard deviation over the draws.

    python benchmarks/noise_fidelity.py polyu base runs/my_run/model.safetensors
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from senmvae.baselines import AWGN, HeteroscedasticGaussian
from senmvae.evaluation.fidelity import benchmark_split, fidelity, held_out_pairs, synthesize_at_true_levels
from senmvae.generate import NoiseModel

POLYU = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "polyu"
COLUMNS = (
    "noise_std_8bit",
    "kl_noise",
    "akld",
    "akld_reverse",
    "level_ratio_median",
    "level_within_15pct",
    "level_correlation",
)


def row(name: str, draws: list[dict[str, float]]) -> str:
    cells = []
    for column in COLUMNS:
        values = torch.tensor([d[column] for d in draws], dtype=torch.float64)
        spread = f" ± {float(values.std()):.3f}" if len(draws) > 1 else ""
        cells.append(f"{float(values.mean()):.3f}{spread}")
    return f"| {name} | " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="*", help="shipped model names, run folders or model files")
    parser.add_argument("--data", default=str(POLYU))
    parser.add_argument("--paired", type=int, default=10)
    parser.add_argument("--samplers", nargs="+", default=["content-exact", "paper"])
    parser.add_argument("--temperatures", nargs="+", type=float, default=[1.0, 0.0])
    parser.add_argument("--seeds", type=int, default=1, help="draws per row (seeds 0..N-1)")
    args = parser.parse_args()
    if args.data != "default" and not Path(args.data).exists():
        raise SystemExit(f"{args.data} not found: this script needs the PolyU pairs (see ../shared/data/README.md)")
    torch.set_grad_enabled(False)
    split = benchmark_split(args.data, args.paired)
    pairs = held_out_pairs(split)
    print(
        f"{len(pairs.names)} held-out pairs, {pairs.clean.shape[-1]}x{pairs.clean.shape[-2]}, "
        f"real noise std {float(pairs.levels.mean()) * 255:.2f} (8-bit)\n"
    )
    print("| model | " + " | ".join(COLUMNS) + " |")
    print("|---|" + "---:|" * len(COLUMNS))
    fit_pairs = [(p.clean.load(), p.noisy.load()) for p in split.paired]
    for name, baseline in (("awgn", AWGN.fit(fit_pairs)), ("heteroscedastic", HeteroscedasticGaussian.fit(fit_pairs))):
        print(
            row(
                f"{name} (fitted on {len(fit_pairs)} paired crops)",
                [fidelity(synthesize_at_true_levels(baseline, pairs, seed=seed), pairs) for seed in range(args.seeds)],
            )
        )
    for model_name in args.models:
        for sampler in args.samplers:
            model = NoiseModel.load(model_name, sampler=sampler)
            for temperature in args.temperatures:
                draws = [
                    fidelity(synthesize_at_true_levels(model, pairs, seed=seed, temperature=temperature), pairs)
                    for seed in range(args.seeds if temperature else 1)
                ]
                print(row(f"{model_name} {sampler} T{temperature:g}", draws), flush=True)


if __name__ == "__main__":
    main()
