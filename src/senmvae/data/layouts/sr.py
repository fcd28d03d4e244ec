"""Real-world super-resolution challenges: AIM 2019 track 2 and NTIRE 2020 track 1.

Both ship ``Corrupted-tr-x/`` (degraded images of the source domain), ``Corrupted-tr-y/``
(clean high-resolution images) and validation pairs ``Corrupted-va-x/`` (degraded,
low-resolution) with their high-resolution originals in ``Corrupted-va-y/`` (NTIRE 2020) or
``DIV2K_valid_HR/`` (AIM 2019), matched by name. SeNM-VAE models y = B(x) + n' with B the
bicubic downsampler, so every clean image here is bicubic-downsampled by ``scale`` on load:
source images are B(tr-y), targets are tr-x, and pairs are (B(va-y), va-x).
"""

from __future__ import annotations

from pathlib import Path

from senmvae.data.collection import SemiSupervisedSet
from senmvae.data.layouts.folders import keyed_images, match_partners, scene_of_key
from senmvae.data.refs import BicubicImage, FileImage, Pair

TRAIN_DEGRADED = "Corrupted-tr-x"
TRAIN_CLEAN = "Corrupted-tr-y"
VALID_DEGRADED = "Corrupted-va-x"
VALID_CLEAN = ("Corrupted-va-y", "DIV2K_valid_HR")


def detect(root: Path) -> bool:
    return (root / TRAIN_DEGRADED).is_dir() and (root / TRAIN_CLEAN).is_dir()


def read(root: Path, label: str, scale: int = 4) -> SemiSupervisedSet:
    result = SemiSupervisedSet(origin=f"{root} (real-world SR layout, clean side bicubic x1/{scale})")
    degraded, problems = keyed_images(root / TRAIN_DEGRADED)
    result.problems += problems
    result.target = [
        FileImage(f"{label}/{TRAIN_DEGRADED}/{key}", f"{TRAIN_DEGRADED}/{scene_of_key(key)}", path)
        for key, path in degraded.items()
    ]
    clean, problems = keyed_images(root / TRAIN_CLEAN)
    result.problems += problems
    result.source = [
        BicubicImage(f"{label}/{TRAIN_CLEAN}/{key}@x{scale}", f"{TRAIN_CLEAN}/{scene_of_key(key)}", path, scale)
        for key, path in clean.items()
    ]
    valid_clean_root = next((root / name for name in VALID_CLEAN if (root / name).is_dir()), None)
    if (root / VALID_DEGRADED).is_dir() and valid_clean_root is not None:
        valid_degraded, problems = keyed_images(root / VALID_DEGRADED)
        result.problems += problems
        valid_clean, problems = keyed_images(valid_clean_root)
        result.problems += problems
        matched, missing = match_partners(valid_clean, valid_degraded, valid_clean_root, root / VALID_DEGRADED)
        result.problems += missing
        for key, clean_path, degraded_path in matched:
            scene = f"validation/{scene_of_key(key)}"
            result.paired.append(
                Pair(
                    f"{label}/validation/{key}",
                    scene,
                    BicubicImage(f"{label}/{valid_clean_root.name}/{key}@x{scale}", scene, clean_path, scale),
                    FileImage(f"{label}/{VALID_DEGRADED}/{key}", scene, degraded_path),
                )
            )
    return result
