"""What the realism metrics reward, measured with the real noise of held-out PolyU scenes.

Each row rearranges or replaces the real noise y - x of the benchmark's held-out pairs (the
split of ``--paired 10``, centre 256x256) and scores it against the real noisy image, like a
synthetic one: a Gaussian of each image's std; a Gaussian with the real noise's power spectrum
(spatially correlated); the real noise with its pixels shuffled (its exact histogram, white);
the real noise shifted or flipped (its histogram and correlation, at the wrong place); and a
Gaussian with the real noise's own local variance (an oracle of where the noise is), white and
coloured by the colored heteroscedastic Gaussian's kernel fitted on the split's paired images
(the real correlation at the same placement: what the structure costs on AKLD). Also the
correlation of the log local noise variance with the clean image's log local texture and with
its intensity.

With ``--per-image``, also each image's own noise level, lag-1 and cross-channel correlation,
for the pairs a shipped model of the set learns from and for the held-out ones (both centre
256x256), and each group's pooled figures: whether the held-out cameras' structure is the
training scenes' (docs/training.md, "What the remaining bars ask").

    python benchmarks/noise_structure.py
    python benchmarks/noise_structure.py --data ../shared/data/renoir
    python benchmarks/noise_structure.py --data ../shared/data/nam --per-image
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from senmvae.baselines import ColoredHeteroscedasticGaussian
from senmvae.evaluation.fidelity import EvalSet, benchmark_split, centre_crops, held_out_pairs, training_pairs
from senmvae.metrics.images import quantize_8bit
from senmvae.metrics.kl import akld_danet, akld_reverse, kl_noise_histogram, local_noise_variance
from senmvae.metrics.structure import noise_structure
from senmvae.noise_level import noise_level

POLYU = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "polyu"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(POLYU))
    parser.add_argument("--per-image", action="store_true", help="also each image's level, lag-1 and channels")
    args = parser.parse_args()
    if not Path(args.data).exists():
        raise SystemExit(f"{args.data} not found: this script needs the PolyU pairs (see ../shared/data/README.md)")
    torch.manual_seed(0)
    split = benchmark_split(args.data, 10)
    pairs = held_out_pairs(split)
    colouring = ColoredHeteroscedasticGaussian.fit([(p.clean.load(), p.noisy.load()) for p in split.paired])
    x, y = pairs.clean.double(), pairs.noisy.double()
    noise = y - x
    std = noise.flatten(1).std(1).view(-1, 1, 1, 1)
    phases = torch.fft.fft2(torch.randn_like(noise))
    flat = noise.flatten(2)
    shuffled = torch.gather(flat, -1, torch.argsort(torch.rand_like(flat), -1)).view_as(noise)
    rows = {
        "Gaussian, each image's std": torch.randn_like(x) * std,
        "Gaussian, the real power spectrum": torch.fft.ifft2(torch.fft.fft2(noise) * phases / phases.abs()).real,
        "real noise, pixels shuffled": shuffled,
        "real noise, shifted by (37, 53)": torch.roll(noise, (37, 53), (2, 3)),
        "real noise, flipped": torch.flip(noise, (2, 3)),
        "Gaussian, the real local variance (oracle)": torch.randn_like(x) * local_noise_variance(y, x).sqrt(),
        "colored Gaussian's colouring, the real local variance (oracle)": (
            colouring.coloured_noise(x.shape, x, torch.Generator().manual_seed(0)) * local_noise_variance(y, x).sqrt()
        ),
    }
    print(f"{len(pairs.names)} held-out pairs, real noise std {float(std.mean()) * 255:.2f} (8-bit)\n")
    print("| noise | std | KL noise | AKLD | AKLD reverse |\n|---|---:|---:|---:|---:|")
    for name, fake_noise in rows.items():
        fake = quantize_8bit((x + fake_noise).clamp(0, 1))
        print(
            f"| {name} | {float((fake - x).std()) * 255:.2f} | {kl_noise_histogram(fake, y, x):.4f} "
            f"| {float(akld_danet(fake, y, x).mean()):.3f} | {float(akld_reverse(fake, y, x).mean()):.3f} |"
        )
    local = np.log(local_noise_variance(y, x).flatten().numpy() + 1e-8)
    texture = local_noise_variance(x, F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), 3, 1))
    texture = np.log(texture.flatten().numpy() + 1e-8)
    with_texture = np.corrcoef(local, texture)[0, 1]
    with_intensity = np.corrcoef(local, x.flatten().numpy())[0, 1]
    print(
        f"\ncorrelation of the log local noise variance with the clean image's log local texture: "
        f"{with_texture:.2f}; with its intensity: {with_intensity:.2f}"
    )
    if args.per_image:
        print("\n| pairs | image | level (8-bit) | lag-1 | channels |\n|---|---|---:|---:|---:|")
        for group, group_pairs in (("training", centre_crops(training_pairs(args.data))), ("held out", pairs)):
            per_image = [per_image_structure(group_pairs, i) for i in range(len(group_pairs.names))]
            for name, (level, lag1, channels) in zip(group_pairs.names, per_image):
                print(f"| {group} | {name} | {level:.2f} | {lag1:.2f} | {channels:.2f} |")
            pooled = noise_structure(group_pairs.noisy, group_pairs.clean)
            channels = [row[2] for row in per_image]
            print(
                f"| {group}, all {len(per_image)} | pooled (per-image mean, range) | "
                f"{float(group_pairs.levels.mean()) * 255:.2f} | {pooled.lag1:.2f} | "
                f"{pooled.channels:.2f} ({np.mean(channels):.2f}, {min(channels):.2f} to {max(channels):.2f}) |"
            )


def per_image_structure(pairs: EvalSet, index: int) -> tuple[float, float, float]:
    """One image's noise level (8-bit), lag-1 autocorrelation and cross-channel correlation."""
    noisy, clean = pairs.noisy[index : index + 1], pairs.clean[index : index + 1]
    structure = noise_structure(noisy, clean)
    return float(noise_level(noisy, clean)[0]) * 255, structure.lag1, structure.channels


if __name__ == "__main__":
    main()
