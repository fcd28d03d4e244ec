"""Plain folders: one folder of images (a source or target domain), or ``clean/`` + ``noisy/``
folders whose files are matched by relative path and stem (a paired domain).

Folders are read recursively. An image's key is its path relative to the folder without the
suffix (``sub/0001``); its scene is the first subfolder when there is one (so putting the
images of one scene in one subfolder keeps them together when splitting), else the key.
"""

from __future__ import annotations

import os
from pathlib import Path

from senmvae.data.dataset import Action, Problem, SemiSupervisedSet
from senmvae.data.io import is_image_file
from senmvae.data.refs import FileImage, Pair

IMAGE_KINDS = "PNG, TIFF, JPEG or BMP"


def scan(root: Path) -> tuple[list[Path], list[Problem]]:
    """Image files under ``root`` (recursive, sorted), and a problem for each other file found."""
    images: list[Path] = []
    problems: list[Problem] = []

    def unreadable(err: OSError) -> None:
        problems.append(
            Problem(str(err.filename), f"folder cannot be read ({err.strerror}); fix its permissions", Action.SKIP)
        )

    for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for filename in sorted(filenames):
            path = Path(dirpath) / filename
            if filename.startswith("."):
                continue
            if is_image_file(path):
                images.append(path)
            else:
                problems.append(
                    Problem(
                        str(path),
                        f"not an image file (suffix {path.suffix or 'none'!r}); ignored. "
                        f"Move it out of the dataset folder, or convert it to {IMAGE_KINDS}",
                        Action.SKIP,
                    )
                )
    return images, problems


def image_key(path: Path, root: Path) -> str:
    return path.relative_to(root).with_suffix("").as_posix()


def scene_of_key(key: str) -> str:
    return key.split("/", 1)[0] if "/" in key else key


def empty_folder(root: Path) -> Problem:
    return Problem(
        str(root), f"holds no images ({IMAGE_KINDS}); add images or remove this folder from the spec", Action.REFUSE
    )


def keyed_images(root: Path) -> tuple[dict[str, Path], list[Problem]]:
    """Images under ``root`` by key; two files with one key (``a.png``, ``a.jpg``) are refused."""
    images, problems = scan(root)
    keyed: dict[str, Path] = {}
    for path in images:
        key = image_key(path, root)
        if key in keyed:
            problems.append(
                Problem(
                    str(path),
                    f"has the same name as {keyed[key].name} apart from the suffix, so the pairing is "
                    "ambiguous; keep one of the two",
                    Action.REFUSE,
                )
            )
            continue
        keyed[key] = path
    if not images:
        problems.append(empty_folder(root))
    return keyed, problems


def match_partners(
    clean: dict[str, Path],
    noisy: dict[str, Path],
    clean_where: Path,
    noisy_where: Path,
    partner: str = "a file of the same name",
) -> tuple[list[tuple[str, Path, Path]], list[Problem]]:
    """(key, clean, noisy) for keys on both sides; a skip problem for each file without a partner."""
    matched = [(key, clean[key], noisy[key]) for key in sorted(clean.keys() & noisy.keys())]
    problems = [
        Problem(
            str(path),
            f"has no partner (expected {partner} in {other}); left out. Add the partner or remove this file",
            Action.SKIP,
        )
        for side, other_side, other in ((clean, noisy, noisy_where), (noisy, clean, clean_where))
        for key, path in sorted(side.items())
        if key not in other_side
    ]
    return matched, problems


def read_single_folder(root: Path, label: str) -> tuple[list[FileImage], list[Problem]]:
    keyed, problems = keyed_images(root)
    return [FileImage(f"{label}/{key}", scene_of_key(key), path) for key, path in keyed.items()], problems


def is_paired_folders(root: Path, clean: str = "clean", noisy: str = "noisy") -> bool:
    return (root / clean).is_dir() and (root / noisy).is_dir()


def read_paired_folders(root: Path, label: str, clean: str = "clean", noisy: str = "noisy") -> SemiSupervisedSet:
    clean_root, noisy_root = root / clean, root / noisy
    clean_images, clean_problems = keyed_images(clean_root)
    noisy_images, noisy_problems = keyed_images(noisy_root)
    matched, missing = match_partners(clean_images, noisy_images, clean_root, noisy_root)
    pairs = [
        Pair(
            f"{label}/{key}",
            scene_of_key(key),
            FileImage(f"{label}/{clean}/{key}", scene_of_key(key), clean_path),
            FileImage(f"{label}/{noisy}/{key}", scene_of_key(key), noisy_path),
        )
        for key, clean_path, noisy_path in matched
    ]
    return SemiSupervisedSet(
        paired=pairs,
        origin=f"{root} (folders {clean}/ and {noisy}/)",
        problems=clean_problems + noisy_problems + missing,
    )
