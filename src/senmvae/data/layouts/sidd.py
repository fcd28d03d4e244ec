"""SIDD, the Smartphone Image Denoising Dataset (Abdelhamed et al., 2018), sRGB parts.

SIDD-Medium: ``SIDD_Medium_Srgb/Data/<instance>/`` with ``<id>_GT_SRGB_010.PNG`` /
``<id>_NOISY_SRGB_010.PNG`` and the same with ``_011``. The folder name is
``<instance>_<scene>_<phone>_<ISO>_<shutter>_<temperature>_<brightness>``
(e.g. ``0052_002_S6_01600_01000_5500_N``); the scene number is the scene.

Validation and benchmark blocks: ``ValidationNoisyBlocksSrgb.mat`` and
``ValidationGtBlocksSrgb.mat`` (pairs), ``BenchmarkNoisyBlocksSrgb.mat`` (noisy only: its
ground truth is withheld), each holding one variable named like the file, a uint8 array of
(40 images, 32 blocks, 256, 256, 3). The image index is the scene.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from senmvae.data.collection import Action, Problem, SemiSupervisedSet
from senmvae.data.layouts.folders import match_partners
from senmvae.data.refs import FileImage, MatBlockImage, Pair

_INSTANCE = re.compile(r"^(\d{4})_(\d{3})_([A-Z0-9]{2})_(\d{5})_(\d{5})_(\d{4})_([LNH])$")
_IMAGE = re.compile(r"^(\d{4})_(GT|NOISY)_SRGB_(\d{3})$", re.IGNORECASE)

VALIDATION_NOISY = "ValidationNoisyBlocksSrgb"
VALIDATION_GT = "ValidationGtBlocksSrgb"
BENCHMARK_NOISY = "BenchmarkNoisyBlocksSrgb"
BLOCK_FILES = (VALIDATION_NOISY, VALIDATION_GT, BENCHMARK_NOISY)


def _instances(root: Path) -> list[Path]:
    """Scene-instance folders under ``root``, ``root/Data`` or ``root/SIDD_Medium_Srgb/Data``."""
    for data in (root, root / "Data", root / "SIDD_Medium_Srgb" / "Data"):
        if data.is_dir():
            found = sorted(p for p in data.iterdir() if p.is_dir() and _INSTANCE.match(p.name))
            if found:
                return found
    return []


def detect_medium(root: Path) -> bool:
    return bool(_instances(root))


def read_medium(root: Path, label: str) -> SemiSupervisedSet:
    pairs: list[Pair] = []
    problems: list[Problem] = []
    for folder in _instances(root):
        scene = f"sidd-scene-{_INSTANCE.match(folder.name)[2]}"
        clean: dict[str, Path] = {}
        noisy: dict[str, Path] = {}
        for path in sorted(folder.iterdir()):
            match = _IMAGE.match(path.stem)
            if path.suffix.lower() != ".png" or not match:
                continue  # SIDD ships .MAT raw/metadata files beside the sRGB PNGs
            (clean if match[2].upper() == "GT" else noisy)[match[3]] = path
        matched, missing = match_partners(clean, noisy, folder, folder, "the matching GT / NOISY file")
        problems += missing
        if not clean and not noisy:
            problems.append(
                Problem(str(folder), "holds no *_GT_SRGB_*.PNG / *_NOISY_SRGB_*.PNG images; left out", Action.SKIP)
            )
        for index, clean_path, noisy_path in matched:
            name = f"{label}/{folder.name}/{index}"
            pairs.append(
                Pair(
                    name,
                    scene,
                    FileImage(f"{label}/{folder.name}/{clean_path.stem}", scene, clean_path),
                    FileImage(f"{label}/{folder.name}/{noisy_path.stem}", scene, noisy_path),
                )
            )
    return SemiSupervisedSet(paired=pairs, origin=f"{root} (SIDD-Medium sRGB layout)", problems=problems)


def detect_blocks(root: Path) -> bool:
    return any((root / f"{name}.mat").is_file() for name in BLOCK_FILES)


def _block_shape(path: Path, variable: str) -> tuple[tuple[int, ...] | None, Problem | None]:
    """The array's shape, read from the file's header only (the arrays are ~250 MB)."""
    import h5py
    import scipy.io

    try:
        if h5py.is_hdf5(path):
            with h5py.File(path, "r") as fh:
                shapes = {key: tuple(reversed(fh[key].shape)) for key in fh if hasattr(fh[key], "shape")}
        else:
            shapes = {name: tuple(shape) for name, shape, _ in scipy.io.whosmat(path)}
    except Exception as err:  # scipy/h5py raise many types on corrupt files
        return None, Problem(str(path), f"cannot read MATLAB file ({err}); re-download it", Action.REFUSE)
    shape = shapes.get(variable)
    if shape is None:
        return None, Problem(
            str(path), f"has no variable {variable!r} (holds {', '.join(shapes) or 'nothing'})", Action.REFUSE
        )
    if len(shape) != 5 or shape[-1] != 3:
        return None, Problem(
            str(path), f"{variable} has shape {shape}, expected (images, blocks, H, W, 3) as in SIDD", Action.REFUSE
        )
    return shape, None


def _blocks(root: Path, variable: str, label: str, part: str) -> tuple[list[MatBlockImage], list[Problem]]:
    path = root / f"{variable}.mat"
    shape, problem = _block_shape(path, variable)
    if problem:
        return [], [problem]
    refs = [
        MatBlockImage(f"{label}/{variable}/{i:02d}_{j:02d}", f"sidd-{part}-{i:02d}", path, variable, (i, j))
        for i, j in np.ndindex(*shape[:2])
    ]
    return refs, []


def read_blocks(root: Path, label: str) -> SemiSupervisedSet:
    result = SemiSupervisedSet(origin=f"{root} (SIDD .mat blocks)")
    have = {name: (root / f"{name}.mat").is_file() for name in BLOCK_FILES}
    if have[VALIDATION_NOISY] and have[VALIDATION_GT]:
        noisy, noisy_problems = _blocks(root, VALIDATION_NOISY, label, "val")
        clean, clean_problems = _blocks(root, VALIDATION_GT, label, "val")
        result.problems += noisy_problems + clean_problems
        if noisy and clean and [c.index for c in clean] != [n.index for n in noisy]:
            result.problems.append(
                Problem(
                    str(root / f"{VALIDATION_GT}.mat"),
                    f"holds blocks {clean[-1].index} at most but {VALIDATION_NOISY}.mat holds "
                    f"{noisy[-1].index}; the two files must come from the same SIDD release",
                    Action.REFUSE,
                )
            )
        elif noisy and clean:
            result.paired = [
                Pair(f"{label}/validation/{c.index[0]:02d}_{c.index[1]:02d}", c.scene, c, n)
                for c, n in zip(clean, noisy)
            ]
    else:
        for present, missing in ((VALIDATION_NOISY, VALIDATION_GT), (VALIDATION_GT, VALIDATION_NOISY)):
            if have[present]:
                result.problems.append(
                    Problem(
                        str(root / f"{present}.mat"),
                        f"has no partner {missing}.mat beside it; its blocks are left out. Add the partner file",
                        Action.SKIP,
                    )
                )
    if have[BENCHMARK_NOISY]:
        result.target, problems = _blocks(root, BENCHMARK_NOISY, label, "bench")
        result.problems += problems
    return result
