"""Median time of one training step on synthetic batches (no data loading), for a preset.

Prints, for batch ``--batch`` of ``--crop`` x ``--crop``:

* the full step: VAE + level predictor + perceptual loss + discriminator update;
* the VAE-only step (no perceptual loss, no discriminator);
* the saving of per-sample routing: a mixed batch (domains drawn with equal frequency, each
  sample running only the branches its loss needs) against an all-paired batch (every
  branch runs for every sample).

    python benchmarks/train_step.py --preset cpu
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from senmvae.domain import Domain
from senmvae.train.config import TRAIN_PRESETS, train_preset
from senmvae.train.run import build_perceptual
from senmvae.train.trainer import Trainer


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="cpu", choices=sorted(TRAIN_PRESETS))
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--crop", type=int, default=64)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    return parser


def batch_of(domains: list[int], crop: int, device: str) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    clean = torch.rand(len(domains), 3, crop, crop, generator=g)
    noisy = (clean + 0.03 * torch.randn(clean.shape, generator=g)).clamp(0, 1)
    return {"clean": clean.to(device), "noisy": noisy.to(device), "domain": torch.tensor(domains, device=device)}


def median_step_seconds(
    trainer: Trainer, batch: dict[str, torch.Tensor], warmup: int, repeats: int
) -> tuple[float, float]:
    """Median (wall, process CPU) seconds of one step. With one thread on a busy machine the CPU
    time estimates the wall time the step would take on a quiet one."""
    wall, cpu = [], []
    for i in range(warmup + repeats):
        if trainer.device.type == "cuda":
            torch.cuda.synchronize()
        start, start_cpu = time.perf_counter(), time.process_time()
        trainer.training_step(batch)
        if trainer.device.type == "cuda":
            torch.cuda.synchronize()
        if i >= warmup:
            wall.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def main(args: argparse.Namespace) -> None:
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = train_preset(args.preset).merged(
        {"data": {"batch_size": args.batch, "crop": args.crop}, "device": args.device, "seed": 0}
    )
    vae_only = cfg.merged({"objective": {"gan_weight": 0.0, "perceptual_weight": 0.0}, "perceptual": {"kind": "none"}})
    g = torch.Generator().manual_seed(1)
    mixed = torch.randint(0, 3, (args.batch,), generator=g).tolist()
    batches = {
        "mixed": batch_of(mixed, args.crop, args.device),
        "all-paired": batch_of([int(Domain.PAIRED)] * args.batch, args.crop, args.device),
    }

    print(
        f"preset {args.preset}, batch {args.batch} of {args.crop}x{args.crop}, device {args.device}, "
        f"{torch.get_num_threads()} threads, perceptual {cfg.perceptual.kind}, load average {os.getloadavg()[0]:.2f}"
    )
    print(f"mixed batch domains (0 paired, 1 source, 2 target): {mixed}")
    results = {}
    for label, step_cfg, perceptual in (("full step", cfg, build_perceptual(cfg)), ("VAE-only step", vae_only, None)):
        for kind, batch in batches.items():
            trainer = Trainer(step_cfg, args.device, perceptual)
            wall, cpu = median_step_seconds(trainer, batch, args.warmup, args.repeats)
            results[label, kind] = wall
            print(
                f"{label:<14} {kind:<11} median {wall:.3f} s wall, {cpu:.3f} s process CPU, over {args.repeats} steps"
            )
    for label in ("full step", "VAE-only step"):
        saving = 1 - results[label, "mixed"] / results[label, "all-paired"]
        print(f"routing saving, {label}: {100 * saving:.0f}% of the wall time (mixed vs all-paired)")
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main(get_args_parser().parse_args())
