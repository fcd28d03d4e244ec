"""Noise fidelity of models on held-out scenes, against fitted Gaussian baselines and the real noise.

The held-out scenes are those of the benchmark's scene-grouped split (``benchmark_split``: seed
0, ``--paired 10``, its default held-out share: PolyU 21 pairs of 6 scenes, RENOIR and Nam 8
pairs each): no model trained by ``senmvae benchmark`` or shipped fine-tuned on that set saw
them. The three Gaussians (white, heteroscedastic, colored heteroscedastic) are fitted on the
split's paired domain. Every image is conditioned on its true noise level, one draw per image,
centre 256x256. For each model both samplers are printed (the paper's and content-exact), at
temperature 1 and 0; the last row is the real noise itself. With ``--seeds N`` every row is
drawn N times (seeds 0..N-1, the Gaussians too) and each figure is printed as mean +- standard
deviation over the draws. ``--json OUT`` also writes every draw's figures. ``--components``
adds, for each model and sampler, the rows of its noise parts alone: what the degradation
latents zn add (the decoder with zn minus without, for content-exact) and the pixel-noise
head's draw, each on the clean image (the component table of the README and the cards).
``--placement`` adds where the noise is: its std in each fifth of every image's pixels ranked by
the clean image's local contrast (flat to edges) and by its brightness (dark to bright), for each
whole model at temperature 1, the Gaussians and the real noise (``senmvae.metrics.noise_placement``).
``--per-image`` adds each held-out image's histogram KL for the same rows: which images a set's
mean comes from. ``--on training`` measures on the pairs a shipped model of the set learned from
instead (the same centre crops): how much of a gap on the held-out scenes is fit and how much
generalisation.

    python benchmarks/noise_fidelity.py polyu base runs/my_run/model.safetensors
    python benchmarks/noise_fidelity.py --data ../shared/data/renoir --json renoir.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from senmvae.atomic import write_text_atomic
from senmvae.baselines import AWGN, ColoredHeteroscedasticGaussian, HeteroscedasticGaussian
from senmvae.evaluation.fidelity import (
    benchmark_split,
    centre_crops,
    fidelity,
    held_out_pairs,
    synthesize_at_true_levels,
    training_pairs,
)
from senmvae.generate import NoiseModel
from senmvae.metrics import NoisePlacement, kl_noise_histogram, noise_placement
from senmvae.model.network import NOISE_PARTS

POLYU = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "polyu"
COLUMNS = (
    "noise_std_8bit",
    "kl_noise",
    "akld",
    "akld_reverse",
    "lag1",
    "lag2",
    "channels",
    "spectrum_distance",
    "grid_share",
    "checkerboard_ratio",
    "level_ratio_median",
    "level_within_15pct",
    "level_correlation",
)
REAL = "real"
COMPONENT_COLUMNS = ("lag1", "channels", "spectrum_distance", "checkerboard_ratio", "kl_noise", "akld_reverse")


def _mean(draws: list[dict[str, float]], column: str) -> float:
    return sum(d[column] for d in draws) / len(draws)


def component_table(rows: dict[str, list[dict[str, float]]]) -> str:
    """What each noise part of each model and sampler makes: its share of the whole noise's
    variance (part std squared over the whole's; with content-exact the parts are drawn
    independently, so the shares of zn and the head add up to about 1; with the paper sampler each
    part also carries the regenerated content's error, and they add up to more) and its
    structure, beside the real noise's."""
    lines = [
        "| model, sampler | part | std (8-bit) | share of the variance | " + " | ".join(COMPONENT_COLUMNS) + " |",
        "|---|---|---:|---:|" + "---:|" * len(COMPONENT_COLUMNS),
    ]
    for name, draws in rows.items():
        if not name.endswith(" T1") or " alone " in name:
            continue
        whole = name[: -len(" T1")]
        parts = [("all", draws)] + [
            (part, rows[f"{whole} {part} alone T1"]) for part in NOISE_PARTS if f"{whole} {part} alone T1" in rows
        ]
        if len(parts) == 1:
            continue
        total = _mean(draws, "noise_std_8bit") ** 2
        for part, part_draws in parts:
            std = _mean(part_draws, "noise_std_8bit")
            cells = [f"{_mean(part_draws, c):.3f}" for c in COMPONENT_COLUMNS]
            lines.append(f"| {whole} | {part} | {std:.2f} | {std**2 / total:.0%} | " + " | ".join(cells) + " |")
    if REAL in rows:
        real = rows[REAL]
        cells = [f"{_mean(real, c):.3f}" for c in COMPONENT_COLUMNS]
        lines.append(f"| real | | {_mean(real, 'noise_std_8bit'):.2f} | | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def placement_means(placements: list[NoisePlacement]) -> dict[str, list[float]]:
    """The mean over draws of each fifth's std, in 8-bit units."""
    return {
        key: [float(v) * 255.0 for v in np.mean([getattr(p, key) for p in placements], axis=0)]
        for key in ("by_contrast", "by_brightness")
    }


def placement_table(placements: dict[str, dict[str, list[float]]]) -> str:
    lines = ["| noise | by contrast: flat ... edges | by brightness: dark ... bright |", "|---|---|---|"]
    for name, where in placements.items():
        cells = [" / ".join(f"{v:.2f}" for v in where[key]) for key in ("by_contrast", "by_brightness")]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def per_image_table(names: list[str], values: dict[str, list[float]]) -> str:
    """One row per noise, one column per held-out image (its name without the set's folder)."""
    short = [name.rsplit("/", 1)[-1] for name in names]
    lines = ["| noise | " + " | ".join(short) + " |", "|---|" + "---:|" * len(short)]
    lines += [f"| {noise} | " + " | ".join(f"{v:.4f}" for v in row) + " |" for noise, row in values.items()]
    return "\n".join(lines)


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
    parser.add_argument("--data", default=str(POLYU), help="a paired set (PolyU, RENOIR, Nam folder or a spec)")
    parser.add_argument("--paired", type=int, default=10)
    parser.add_argument("--samplers", nargs="+", default=["content-exact", "paper"])
    parser.add_argument("--temperatures", nargs="+", type=float, default=[1.0, 0.0])
    parser.add_argument("--seeds", type=int, default=1, help="draws per row (seeds 0..N-1)")
    parser.add_argument("--json", type=Path, help="also write every row's draws to this JSON file")
    parser.add_argument(
        "--components",
        action="store_true",
        help="also each model's noise parts alone (zn; the pixel-noise head), at temperature 1",
    )
    parser.add_argument(
        "--match-level",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="scale each model image's noise to exactly its level (default: as each model file says)",
    )
    parser.add_argument(
        "--placement",
        action="store_true",
        help="also the noise std by fifth of the pixels, ranked by the clean image's contrast and brightness",
    )
    parser.add_argument("--per-image", action="store_true", help="also each image's histogram KL")
    parser.add_argument(
        "--on",
        choices=("held-out", "training"),
        default="held-out",
        help="the pairs to measure on: the held-out scenes, or those a shipped model of the set learned from",
    )
    args = parser.parse_args()
    if args.data != "default" and not Path(args.data).exists():
        raise SystemExit(f"{args.data} not found: this script needs real pairs (see ../shared/data/README.md)")
    torch.set_grad_enabled(False)
    split = benchmark_split(args.data, args.paired)
    pairs = held_out_pairs(split) if args.on == "held-out" else centre_crops(training_pairs(args.data))
    fit_pairs = [(p.clean.load(), p.noisy.load()) for p in split.paired]
    print(
        f"{args.data}: {len(pairs.names)} {args.on} pairs, {pairs.clean.shape[-1]}x{pairs.clean.shape[-2]}, "
        f"real noise std {float(pairs.levels.mean()) * 255:.2f} (8-bit); Gaussians fitted on the "
        f"{len(fit_pairs)} paired images of the split\n"
    )
    print("| model | " + " | ".join(COLUMNS) + " |")
    print("|---|" + "---:|" * len(COLUMNS))
    rows: dict[str, list[dict[str, float]]] = {}
    placements: dict[str, dict[str, list[float]]] = {}
    per_image_kl: dict[str, list[float]] = {}

    def report(name: str, draws: list[dict[str, float]]) -> None:
        rows[name] = draws
        print(row(name, draws), flush=True)

    def measure(name: str, source, seeds: int, temperature: float = 1.0, whole_noise: bool = True) -> None:
        # whole_noise: a whole noise at temperature 1, which also gets the --placement and --per-image figures
        draws, where, kl = [], [], []
        for seed in range(seeds):
            synthetic = synthesize_at_true_levels(source, pairs, seed=seed, temperature=temperature)
            draws.append(fidelity(synthetic, pairs))
            if args.placement and whole_noise:
                where.append(noise_placement(synthetic.clamp(0.0, 1.0), pairs.clean))
            if args.per_image and whole_noise:
                kl.append(kl_noise_histogram(synthetic, pairs.noisy, pairs.clean, convention="neca", reduction="none"))
        report(name, draws)
        if where:
            placements[name] = placement_means(where)
        if kl:
            per_image_kl[name] = [float(v) for v in np.mean(kl, axis=0)]

    baselines = {
        "awgn": AWGN.fit(fit_pairs),
        "heteroscedastic": HeteroscedasticGaussian.fit(fit_pairs),
        "colored_heteroscedastic": ColoredHeteroscedasticGaussian.fit(fit_pairs),
    }
    for name, baseline in baselines.items():
        measure(name, baseline, args.seeds)
    for model_name in args.models:
        for sampler in args.samplers:
            for parts in [NOISE_PARTS, *([(part,) for part in NOISE_PARTS] if args.components else [])]:
                model = NoiseModel.load(model_name, sampler=sampler, parts=parts, match_level=args.match_level)
                alone = "" if parts == NOISE_PARTS else f" {parts[0]} alone"
                for temperature in args.temperatures if not alone else [1.0]:
                    name = f"{model_name} {sampler}{alone} T{temperature:g}"
                    measure(name, model, args.seeds if temperature else 1, temperature, not alone and temperature == 1)
    report(REAL, [fidelity(pairs.noisy, pairs)])
    if args.placement:
        placements[REAL] = placement_means([noise_placement(pairs.noisy, pairs.clean)])
    if args.components:
        print("\nWhat each part makes (temperature 1; share: the part's variance over the whole noise's):\n")
        print(component_table(rows))
    if args.placement:
        print(
            "\nWhere the noise is (std, 8-bit, in each fifth of every image's pixels ranked by the clean image; "
            "mean over the draws):\n"
        )
        print(placement_table(placements))
    if args.per_image:
        print("\nHistogram KL of each image (mean over the draws):\n")
        print(per_image_table(pairs.names, per_image_kl))
    if args.json:
        document = {
            "command": " ".join(["python", *sys.argv]),
            "data": str(args.data),
            "measured_on": args.on,
            "pairs": pairs.names,
            "size": list(pairs.clean.shape[-2:]),
            "fitted_on": [p.name for p in split.paired],
            # the colored Gaussian's 3x3x15x15 kernel is left out: rerun the fit to get it
            "baselines": {
                name: {key: value for key, value in model.to_dict().items() if key != "kernel"}
                for name, model in baselines.items()
            },
            "rows": rows,
            **({"placement": placements} if args.placement else {}),
            **({"per_image_kl": per_image_kl} if args.per_image else {}),
        }
        write_text_atomic(args.json, json.dumps(document, indent=1) + "\n")
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
