"""Learning curves of training recipes on PolyU: held-out noise fidelity against minutes and steps.

Each recipe trains the `cpu` model with the project's Trainer in a plain loop on the
benchmark's scene-grouped PolyU split (10 paired crops, the rest unpaired, split seed 0; training seed --seed), for the
same wall-clock minutes, and is evaluated every ``--every`` minutes on the held-out scenes
(:mod:`senmvae.evaluation.fidelity`): content PSNR (the clean image decoded from the mean of
q(z|x) without zn), and the noise metrics of both samplers at temperature 1.

Recipes (``--recipes``): ``official`` (the cpu model with the authors' recipe: Adam 1e-4 on
their step schedule, zero-initialised projections, output bias 0, KL warm-up over 10k steps, no
noise-residual term, no pixel-noise head), ``fast`` (the cpu preset as shipped), one ``fast-...``
recipe per lever with that lever set back to the official value (the ablation, one lever at a
time), two candidate changes the preset does not make (the perceptual and GAN terms from step
300; batch 4 of 96x96 crops), and ``finetune-base`` (the cpu preset started from the shipped base
model). Run it with OMP_NUM_THREADS=1 on a quiet core:

    OMP_NUM_THREADS=1 python benchmarks/recipe_curve.py --minutes 8 --every 2 --json curve.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from senmvae.data import StepBatchSampler, validate
from senmvae.evaluation.fidelity import benchmark_split, fidelity, held_out_pairs, synthesize_at_true_levels
from senmvae.generate import NoiseModel
from senmvae.metrics import psnr
from senmvae.train import Trainer
from senmvae.train.config import train_preset
from senmvae.train.run import build_perceptual, initial_model, initialise, training_domains

POLYU = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "polyu"
# The authors' recipe on the cpu model: every lever of the fast recipe set back.
OFFICIAL = {
    "model": {"projection_gain": 0.0, "content_log_sigma_bias": 0.0, "level_scale": 1.0, "pixel_noise": None},
    "init": {"output_bias": "zero"},
    "objective": {
        "noise_residual_weight": 0.0,
        "kl_anneal_steps": 10_000,
        "perceptual_weight": 1e-2,
        "gan_weight": 0.1,
    },
    "optim": {"lr": 1e-4},
    "schedule": {"lr_schedule": "multistep", "milestones": [1500, 2250, 2700, 2850], "warmup_steps": 0},
}
# Each "fast-..." recipe is the cpu preset with one lever set back to the official value (or, for
# the last two, one candidate change that the preset does not make).
RECIPES = {
    "official": OFFICIAL,
    "fast": {},
    "fast-no-gain": {"model": {"projection_gain": 0.0}},
    "fast-no-sigma-bias": {"model": {"content_log_sigma_bias": 0.0}},
    "fast-no-level-scale": {"model": {"level_scale": 1.0}},
    "fast-zero-output-bias": {"init": {"output_bias": "zero"}},
    "fast-official-lr": {"optim": {"lr": 1e-4}, "schedule": OFFICIAL["schedule"]},
    "fast-no-decay": {"schedule": {"final_lr_fraction": 1.0}},
    "fast-official-kl-anneal": {"objective": {"kl_anneal_steps": 10_000}},
    "fast-no-residual": {"objective": {"noise_residual_weight": 0.0}},
    "fast-no-pixel-noise": {"model": {"pixel_noise": None}},
    "fast-adversarial": {"objective": {"perceptual_weight": 1e-2, "gan_weight": 0.1}},
    "fast-adversarial-from-300": {
        "objective": {"perceptual_weight": 1e-2, "gan_weight": 0.1, "adversarial_start_step": 300}
    },
    "fast-batch4-crop96": {"data": {"batch_size": 4, "crop": 96}},
    "finetune-base": {"init": {"weights": "base"}},
}
LEVERS = [name for name in RECIPES if name != "finetune-base"]


def evaluate(trainer: Trainer, pairs) -> dict[str, float]:
    network = trainer.export_model.eval()
    row = {}
    with torch.no_grad():
        decoded = torch.cat([network.reconstruct(pairs.clean[i : i + 4]) for i in range(0, len(pairs.names), 4)])
    row["content_psnr"] = float(psnr(decoded.clamp(0, 1), pairs.clean).mean())
    for sampler in ("content-exact", "paper"):
        model = NoiseModel(network, sampler=sampler, match_level=trainer.cfg.data.level == "image")
        values = fidelity(synthesize_at_true_levels(model, pairs), pairs)
        row.update({f"{sampler}/{k}": v for k, v in values.items()})
    network.train()
    return row


def run_recipe(name: str, minutes: float, every: float, split, pairs, base: str = "base", seed: int = 0) -> list[dict]:
    recipe = RECIPES[name] if name != "finetune-base" else {"init": {"weights": base}}
    cfg = train_preset("cpu").merged(recipe).merged({"seed": seed})
    cfg, init = initial_model(cfg)
    dataset = validate(split, cfg.data.crop, progress=False).dataset
    trainer = Trainer(cfg, "cpu", build_perceptual(cfg))
    initialise(trainer, dataset, init)
    loader = DataLoader(
        training_domains(cfg, dataset),
        batch_sampler=StepBatchSampler(cfg.data.batch_size, 0, 1, 0),
    )
    rows, trained = [], 0.0
    marks = [every * (k + 1) for k in range(int(minutes / every))]
    batches = iter(loader)
    for mark in marks:
        while trained < mark * 60.0:
            tick = time.perf_counter()
            trainer.time_progress = min(1.0, trained / (minutes * 60.0))
            trainer.training_step(next(batches))
            trained += time.perf_counter() - tick
        row = {"recipe": name, "seed": seed, "minutes": mark, "steps": trainer.step} | evaluate(trainer, pairs)
        rows.append(row)
        print(format_row(row), flush=True)
    return rows


COLUMNS = ("noise_std_8bit", "kl_noise", "akld", "akld_reverse", "level_ratio_median")


def header() -> str:
    cols = ["recipe", "min", "steps", "content PSNR"] + [f"{s} {c}" for s in ("CE", "paper") for c in COLUMNS]
    return "| " + " | ".join(cols) + " |\n|" + "---|" * len(cols)


def format_row(row: dict) -> str:
    cells = [row["recipe"], f"{row['minutes']:g}", str(row["steps"]), f"{row['content_psnr']:.2f}"]
    cells += [f"{row[f'{s}/{c}']:.3f}" for s in ("content-exact", "paper") for c in COLUMNS]
    return "| " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(POLYU))
    parser.add_argument("--minutes", type=float, default=12.0)
    parser.add_argument("--every", type=float, default=3.0)
    parser.add_argument(
        "--recipes",
        nargs="+",
        default=LEVERS,
        choices=list(RECIPES),
        help="default: official, fast and each lever set back one at a time",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="training seed (weights, data order); the split stays seed 0"
    )
    parser.add_argument("--json", help="also write every row to this JSON file (rewritten after each recipe)")
    parser.add_argument(
        "--base", default="base", help="the model finetune-base starts from (default: the shipped base)"
    )
    args = parser.parse_args()
    if not Path(args.data).exists():
        raise SystemExit(f"{args.data} not found: this script needs the PolyU pairs (see ../shared/data/README.md)")
    split = benchmark_split(args.data, 10)
    pairs = held_out_pairs(split)
    print(
        f"{len(pairs.names)} held-out pairs; real noise std {float(pairs.levels.mean()) * 255:.2f} (8-bit); "
        f"{torch.get_num_threads()} thread(s)"
    )
    print("CE = content-exact sampler; both samplers at temperature 1, each image at its true level\n")
    print(header(), flush=True)
    rows = []
    for name in args.recipes:
        rows += run_recipe(name, args.minutes, args.every, split, pairs, args.base, args.seed)
        if args.json:
            Path(args.json).write_text(json.dumps({"threads": torch.get_num_threads(), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
