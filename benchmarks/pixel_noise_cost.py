"""What the coloured pixel noise and the zn spectrum term cost, against the white head, in one process.

The `cpu` preset with a white pixel-noise head (``kernel`` 1, the head before the colouring) is
the reference; against it, interleaved with the same weights and inputs:

* generation: ``NoiseModel.sample`` (content-exact) of one ``--size`` image with the 7x7
  coloured head;
* the training step (VAE only, the `cpu` recipe, a mixed batch of 8 at 64x64) with the coloured
  head, and with the coloured head plus ``objective.zn_spectrum_weight`` (the shipped models'
  recipe).

Median process-CPU seconds (one thread; on a machine shared with other jobs the CPU time is what
a quiet machine would take) and each ratio to the reference.

    OMP_NUM_THREADS=1 python benchmarks/pixel_noise_cost.py
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import torch

from senmvae.generate import NoiseModel
from senmvae.model import SeNMVAE
from senmvae.train.config import train_preset
from senmvae.train.trainer import Trainer
from train_step import batch_of


def cpu_seconds(fn: Callable[[], object], repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=512, help="generated image side")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    base = train_preset("cpu").merged({"perceptual": {"kind": "none"}, "seed": 0})
    configs = {
        "white head (reference)": base.merged({"model": {"pixel_noise": {"kernel": 1}}}),
        "coloured 7x7": base,
        "coloured 7x7 + zn spectrum term": base.merged({"objective": {"zn_spectrum_weight": 2e-3}}),
    }
    print(f"cpu preset, one thread, load average {os.getloadavg()[0]:.2f}")
    clean = torch.rand(1, 3, args.size, args.size, generator=torch.Generator().manual_seed(0))
    mixed = torch.randint(0, 3, (8,), generator=torch.Generator().manual_seed(1)).tolist()
    batch = batch_of(mixed, 64, "cpu")
    generation, step = {}, {}
    for name, cfg in configs.items():
        torch.manual_seed(0)
        network = SeNMVAE(cfg.model)
        model = NoiseModel(network, level=0.03, sampler="content-exact")
        if name != "coloured 7x7 + zn spectrum term":
            generation[name] = cpu_seconds(
                lambda model=model: model.sample(clean, generator=torch.Generator().manual_seed(2)), args.repeats
            )
        trainer = Trainer(cfg, "cpu", None)
        step[name] = cpu_seconds(lambda trainer=trainer: trainer.training_step(batch), args.repeats)
    reference = "white head (reference)"
    print(
        f"\n| | generation {args.size}x{args.size} (s) | ratio | training step (s) | ratio |\n|---|---:|---:|---:|---:|"
    )
    for name in configs:
        gen = generation.get(name)
        cells = f"{gen:.3f} | {gen / generation[reference]:.2f}" if gen is not None else "– | –"
        print(f"| {name} | {cells} | {step[name]:.3f} | {step[name] / step[reference]:.2f} |")
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
