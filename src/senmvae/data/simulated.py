"""Simulated (clean, noisy) pairs from folders of clean photos: the pretraining data of ``base``.

Each photo goes once through the camera simulator of :mod:`senmvae.data.simulate` with a
camera profile drawn from ``presets``, its noise gain scaled by an ISO factor drawn
log-uniformly from ``iso_factors`` (shot-noise variance times the factor, read-noise variance
times its square, as raising the ISO does), and a JPEG round trip with probability
``jpeg_probability`` (quality drawn from ``jpeg_quality``). So the noise is signal-dependent,
channel-correlated and spatially correlated by demosaicing, over a wide range of levels.

The output folder holds ``clean/`` and ``noisy/`` (matching names, 8-bit PNG),
``simulation.json`` (every photo's draw) and ``manifest.json``: a seeded scene split with
``validation_fraction`` of the photos held out and the rest paired. Building is resumable:
a photo whose two files exist is not simulated again.
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from senmvae.data.collection import SemiSupervisedSet
from senmvae.data.io import read_image, write_image
from senmvae.data.layouts.folders import read_paired_folders, scan
from senmvae.data.manifest import write_manifest
from senmvae.data.simulate import Development, preset, random_development, simulate_pair
from senmvae.errors import UserError
from senmvae.noise_level import noise_level_of_arrays
from senmvae.progress import progress_bar

# Profiles the embedded demo set does not use (senmvae.data.embedded.DEMO_PRESETS).
PRETRAINING_PRESETS = ("canon-eos-m3-iso800", "canon-eos-m3-iso3200", "canon-powershot-g1x-iso3200")


@dataclass(frozen=True)
class SimulationRecipe:
    presets: tuple[str, ...] = PRETRAINING_PRESETS
    iso_factors: tuple[float, float] = (0.5, 8.0)
    jpeg_probability: float = 0.5
    jpeg_quality: tuple[int, int] = (85, 98)
    validation_fraction: float = 0.05
    seed: int = 0

    def __post_init__(self) -> None:
        for name in self.presets:
            preset(name)
        low, high = self.iso_factors
        if not 0 < low <= high:
            raise UserError(f"iso factors must satisfy 0 < low <= high, got {self.iso_factors}")
        if not 0.0 <= self.jpeg_probability <= 1.0 or not 1 <= self.jpeg_quality[0] <= self.jpeg_quality[1] <= 100:
            raise UserError("jpeg probability must be in [0, 1] and the quality range within 1..100")
        if not 0.0 <= self.validation_fraction < 1.0:
            raise UserError(f"validation fraction must be in [0, 1), got {self.validation_fraction}")


def _development(recipe: SimulationRecipe, rng: np.random.Generator) -> tuple[Development, float]:
    camera = preset(recipe.presets[int(rng.integers(len(recipe.presets)))])
    low, high = recipe.iso_factors
    factor = float(math.exp(rng.uniform(math.log(low), math.log(high))))
    scaled = replace(
        camera,
        name=f"{camera.name}-x{factor:.2f}",
        a=tuple(a * factor for a in camera.a),
        b=tuple(b * factor**2 for b in camera.b),
    )
    quality = None
    if rng.uniform() < recipe.jpeg_probability:
        quality = int(rng.integers(recipe.jpeg_quality[0], recipe.jpeg_quality[1] + 1))
    return random_development(scaled, rng, jpeg_quality=quality), factor


def photo_files(root: Path) -> list[Path]:
    """Every image under ``root``, which must be a folder holding some (one message otherwise)."""
    if not root.is_dir():
        raise UserError(f"{root}: not a folder of clean photos")
    images, _ = scan(root)
    if not images:
        raise UserError(f"{root}: holds no images (PNG, TIFF, JPEG or BMP)")
    return images


def build_simulated_pairs(
    sources: Sequence[str | Path], out: str | Path, recipe: SimulationRecipe | None = None, progress: bool = True
) -> Path:
    """Simulate a pair for every image under the ``sources`` folders into ``out``; returns the manifest."""
    recipe = recipe or SimulationRecipe()
    out = Path(out)
    photos: list[tuple[str, Path]] = []
    for source in sources:
        root = Path(source)
        photos += [
            (f"{root.name}/{path.relative_to(root).with_suffix('').as_posix()}", path) for path in photo_files(root)
        ]
    record_path = out / "simulation.json"
    record = json.loads(record_path.read_text()) if record_path.is_file() else {}
    for name, path in progress_bar(photos, desc="simulating pairs", unit="photo", disable=not progress):
        clean_file, noisy_file = out / "clean" / f"{name}.png", out / "noisy" / f"{name}.png"
        if name in record and clean_file.is_file() and noisy_file.is_file():
            continue
        rng = np.random.default_rng([recipe.seed, zlib.crc32(name.encode())])
        development, factor = _development(recipe, rng)
        clean, noisy = simulate_pair(read_image(path), development, rng)
        write_image(clean_file, clean)
        write_image(noisy_file, noisy)
        record[name] = {
            "photo": str(path),
            "preset": development.preset.name,
            "iso_factor": round(factor, 4),
            "jpeg_quality": development.jpeg_quality,
            "noise_std_8bit": round(noise_level_of_arrays(noisy, clean) * 255, 3),
        }
        record_path.write_text(json.dumps(record, indent=1) + "\n")
    collection = read_paired_folders(out, "simulated")
    rng = np.random.default_rng(recipe.seed)
    pairs = sorted(collection.paired, key=lambda p: p.name)
    held = set(rng.permutation(len(pairs))[: round(recipe.validation_fraction * len(pairs))].tolist())
    dataset = SemiSupervisedSet(
        paired=[p for i, p in enumerate(pairs) if i not in held],
        validation=[p for i, p in enumerate(pairs) if i in held],
        origin=f"simulated pairs of {', '.join(str(s) for s in sources)}",
    )
    return write_manifest(
        out / "manifest.json",
        dataset,
        source_spec="simulated: " + ", ".join(str(s) for s in sources),
        seed=recipe.seed,
        paired_count=len(dataset.paired),
        options={
            "presets": list(recipe.presets),
            "iso_factors": list(recipe.iso_factors),
            "jpeg_probability": recipe.jpeg_probability,
            "jpeg_quality": list(recipe.jpeg_quality),
            "validation": recipe.validation_fraction,
        },
    )
