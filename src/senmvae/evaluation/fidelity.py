"""Noise fidelity on held-out pairs: how close synthetic noise is to the real noise, image by image.

Used by the benchmark, the learning-curve script and the model cards: each image is
conditioned on its true noise level (std of noisy - clean), one draw per image from its own
stream, and compared with the real noisy image of the same clean image.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from senmvae import metrics
from senmvae.data import SemiSupervisedSet, load_spec
from senmvae.data.split import build_split
from senmvae.generate.base import NoiseSource
from senmvae.generate.seeding import stream_generator
from senmvae.noise_level import noise_level


@dataclass
class EvalSet:
    """Evaluation pairs of one size: names, and (N, 3, H, W) clean and noisy images."""

    names: list[str]
    clean: torch.Tensor
    noisy: torch.Tensor

    @property
    def levels(self) -> torch.Tensor:
        return noise_level(self.noisy, self.clean)

    def pairs(self) -> list[tuple[np.ndarray, np.ndarray]]:
        return [(hwc(c), hwc(n)) for c, n in zip(self.clean, self.noisy)]


def hwc(image: torch.Tensor) -> np.ndarray:
    return image.permute(1, 2, 0).numpy()


def chw(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).permute(2, 0, 1)


def centre_crop(image: np.ndarray, size: int, multiple: int) -> np.ndarray:
    """The centre ``size`` x ``size`` (0: whole) of ``image``, sides rounded down to ``multiple``."""
    h, w = image.shape[:2]
    side_h = min(h, size) if size else h
    side_w = min(w, size) if size else w
    side_h, side_w = side_h - side_h % multiple, side_w - side_w % multiple
    top, left = (h - side_h) // 2, (w - side_w) // 2
    return image[top : top + side_h, left : left + side_w]


def held_out_fraction(collection: SemiSupervisedSet) -> float:
    """The share of scenes the benchmark holds out: a quarter where scenes have several pairs
    (PolyU: 6 of 24 scenes, 21 pairs), a third where each scene is one pair (RENOIR, Nam: 8 of
    24 or 25), so that at least 8 pairs are scored."""
    scenes = {pair.scene for pair in collection.paired}
    return 0.25 if len(collection.paired) >= 2 * len(scenes) else 1 / 3


def benchmark_split(
    data: str | Path | SemiSupervisedSet, paired: int = 10, seed: int = 0, validation: float | None = None
) -> SemiSupervisedSet:
    """The scene-grouped split ``senmvae benchmark`` trains and evaluates on (``validation``:
    the held-out share of scenes, None: :func:`held_out_fraction`); a set that is split into
    domains already (a manifest, a YAML spec, the embedded set) is used as it is."""
    collection = data if isinstance(data, SemiSupervisedSet) else load_spec(data)
    if collection.source or collection.target:
        return collection
    fraction = held_out_fraction(collection) if validation is None else validation
    return build_split(collection, paired, seed=seed, validation=fraction).dataset


def training_pairs(data: str | Path) -> list:
    """Every pair of ``data`` outside the held-out scenes of :func:`benchmark_split` (seed 0):
    what a shipped model fine-tuned on that set may learn from."""
    collection = load_spec(data)
    held = {pair.scene for pair in benchmark_split(collection).validation}
    return [pair for pair in collection.paired if pair.scene not in held]


def held_out_pairs(split: SemiSupervisedSet, crop: int = 256) -> EvalSet:
    """The validation pairs of ``split`` (see :func:`benchmark_split`), centre-cropped."""
    return centre_crops(split.validation, crop)


def centre_crops(pairs: list, crop: int = 256) -> EvalSet:
    """``pairs``, sorted by name, each centre-cropped to ``crop`` x ``crop``."""
    pairs = sorted(pairs, key=lambda p: p.name)
    crops = [(centre_crop(p.clean.load(), crop, 16), centre_crop(p.noisy.load(), crop, 16)) for p in pairs]
    return EvalSet(
        [p.name for p in pairs], torch.stack([chw(c) for c, _ in crops]), torch.stack([chw(y) for _, y in crops])
    )


def synthesize_at_true_levels(
    source: NoiseSource, pairs: EvalSet, seed: int = 0, temperature: float = 1.0, batch: int = 4
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


def fidelity(synthetic: torch.Tensor, pairs: EvalSet) -> dict[str, float]:
    """Noise std (8-bit), histogram KL, AKLD both ways, how the produced std follows the asked level, and
    the noise structure (autocorrelation, channel correlation, spectrum, grid; docs/metrics.md) of the
    synthetic noise beside the real noise's (``<name>_real``)."""
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
    } | metrics.compare_structure(
        metrics.noise_structure(synthetic, pairs.clean), metrics.noise_structure(pairs.noisy, pairs.clean)
    )
