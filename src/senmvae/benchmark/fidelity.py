"""Noise fidelity on held-out pairs: how close synthetic noise is to the real noise, image by image.

Used by the benchmark, the learning-curve script and the model cards: each image is
conditioned on its true noise level (std of noisy - clean), one draw per image from its own
stream, and compared with the real noisy image of the same clean image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from senmvae import metrics
from senmvae.data import load_spec
from senmvae.data.split import build_split
from senmvae.generate.base import NoiseSource
from senmvae.generate.seeding import stream_generator
from senmvae.noise_level import noise_level


@dataclass
class HeldOutPairs:
    names: list[str]
    clean: torch.Tensor  # (N, 3, H, W)
    noisy: torch.Tensor

    @property
    def levels(self) -> torch.Tensor:
        return noise_level(self.noisy, self.clean)


def held_out_pairs(
    spec: str, paired: int = 10, seed: int = 0, validation: float = 0.25, crop: int = 256
) -> HeldOutPairs:
    """The validation scenes of the benchmark's scene-grouped split of ``spec``, centre-cropped."""
    split = build_split(load_spec(spec), paired, seed=seed, validation=validation).dataset
    names, clean, noisy = [], [], []
    for pair in sorted(split.validation, key=lambda p: p.name):
        c, y = pair.clean.load(), pair.noisy.load()
        h, w = c.shape[:2]
        side_h, side_w = min(h, crop) // 16 * 16, min(w, crop) // 16 * 16
        top, left = (h - side_h) // 2, (w - side_w) // 2
        names.append(pair.name)
        clean.append(
            torch.from_numpy(np.ascontiguousarray(c[top : top + side_h, left : left + side_w])).permute(2, 0, 1)
        )
        noisy.append(
            torch.from_numpy(np.ascontiguousarray(y[top : top + side_h, left : left + side_w])).permute(2, 0, 1)
        )
    return HeldOutPairs(names, torch.stack(clean).float(), torch.stack(noisy).float())


def synthesize_at_true_levels(
    source: NoiseSource, pairs: HeldOutPairs, seed: int = 0, temperature: float = 1.0, batch: int = 4
) -> torch.Tensor:
    outputs = []
    levels = pairs.levels
    for start in range(0, len(pairs.names), batch):
        rows = slice(start, start + batch)
        gens = [stream_generator(seed, f"fidelity/{name}") for name in pairs.names[rows]]
        with torch.no_grad():
            outputs.append(
                source.sample(pairs.clean[rows], level=levels[rows], temperature=temperature, generator=gens)
            )
    return torch.cat(outputs)


def fidelity(synthetic: torch.Tensor, pairs: HeldOutPairs) -> dict[str, float]:
    """Noise std (8-bit), histogram KL, AKLD both ways, and how the produced std follows the asked level."""
    asked = pairs.levels
    produced = noise_level(synthetic, pairs.clean)
    ratio = produced / asked
    corr = float(np.corrcoef(asked.numpy(), produced.numpy())[0, 1]) if len(asked) > 2 else float("nan")
    return {
        "noise_std_8bit": float(produced.mean() * 255.0),
        "real_std_8bit": float(asked.mean() * 255.0),
        "kl_noise": float(metrics.kl_noise_histogram(synthetic, pairs.noisy, pairs.clean, convention="neca")),
        "akld": float(metrics.akld_danet(synthetic, pairs.noisy, pairs.clean).mean()),
        "akld_reverse": float(metrics.akld_reverse(synthetic, pairs.noisy, pairs.clean).mean()),
        "level_ratio_median": float(ratio.median()),
        "level_within_15pct": float(((ratio - 1).abs() <= 0.15).float().mean()),
        "level_correlation": corr,
    }
