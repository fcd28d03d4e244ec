"""Plain folders: one folder of images (a source or target domain), or ``clean/`` + ``noisy/``
folders whose files are matched by relative path and stem (a paired domain).

Folders are read recursively, following links except those that loop or lead to images listed
anyway (each real file is listed once). An image's key is its path relative to the folder without the
suffix (``sub/0001``); its scene is the first subfolder when there is one (so putting the
images of one scene in one subfolder keeps them together when splitting), else the key.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from senmvae.data.collection import Action, Problem, SemiSupervisedSet
from senmvae.data.io import is_image_file
from senmvae.data.refs import FileImage, Pair

IMAGE_KINDS = "PNG, TIFF, JPEG or BMP"
NOT_AN_IMAGE = "not an image file"


def scan(root: Path) -> tuple[list[Path], list[Problem]]:
    """Image files under ``root`` (recursive, sorted), and a problem for each other file found.

    Links are followed, but every real file is listed once: a link to a folder that contains it
    (a loop), or to a folder or image that is listed anyway, is left out with a problem.
    """
    walk = _Walk(root)
    walk.run()
    return walk.images, walk.problems


class _Walk:
    """Depth first through ``root``, files of a folder before its subfolders, by name."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.images: list[Path] = []
        self.problems: list[Problem] = []
        self.plain_dirs, self.plain_images = _plain_tree(root)
        self.entered: set[str] = set()
        self.listed: set[str] = set()

    def run(self) -> None:
        real_root = os.path.realpath(self.root)
        self.entered.add(real_root)
        stack = [(self.root, (real_root,))]
        while stack:
            folder, chain = stack.pop()  # chain: real paths of the folders from root down to this one
            subfolders = [sub for sub in self._list(folder, chain[-1]) if self._enter(sub, chain)]
            stack += [(sub.path, (*chain, sub.real)) for sub in reversed(subfolders)]

    def _list(self, folder: Path, real_folder: str) -> list[_Entry]:
        """The subfolders of ``folder``; its files are handled on the way."""
        try:
            with os.scandir(folder) as found:
                entries = sorted((e for e in found if not e.name.startswith(".")), key=lambda e: e.name)
        except OSError as err:
            self.problems.append(
                Problem(str(folder), f"folder cannot be read ({err.strerror}); fix its permissions", Action.SKIP)
            )
            return []
        subfolders = []
        for entry in entries:
            item = _Entry.of(entry, real_folder)
            if item.is_dir:
                subfolders.append(item)
            else:
                self._add_file(item)
        return subfolders

    def _add_file(self, item: _Entry) -> None:
        # A dangling link to an image is listed like the image: decoding reports it, with its pair.
        if not is_image_file(item.path):
            self.problems.append(
                Problem(
                    str(item.path),
                    f"{NOT_AN_IMAGE} (suffix {item.path.suffix or 'none'!r}); ignored. "
                    f"Move it out of the dataset folder, or convert it to {IMAGE_KINDS}",
                    Action.SKIP,
                )
            )
        elif (item.is_link and item.real in self.plain_images) or item.real in self.listed:
            self.problems.append(_duplicate(item))
        else:
            self.listed.add(item.real)
            self.images.append(item.path)

    def _enter(self, item: _Entry, chain: tuple[str, ...]) -> bool:
        if item.is_link and any(_contains(item.real, real) for real in chain):
            self.problems.append(
                Problem(
                    str(item.path),
                    f"is a link to {item.real}, a folder that holds it, so following it would loop forever; "
                    "left out. Remove the link",
                    Action.SKIP,
                )
            )
            return False
        if (item.is_link and item.real in self.plain_dirs) or item.real in self.entered:
            self.problems.append(_duplicate(item))
            return False
        self.entered.add(item.real)
        return True


@dataclass(frozen=True)
class _Entry:
    path: Path
    real: str
    is_link: bool
    is_dir: bool

    @classmethod
    def of(cls, entry: os.DirEntry, real_folder: str) -> _Entry:
        is_link = entry.is_symlink()
        try:
            is_dir = entry.is_dir()  # follows links
        except OSError:
            is_dir = False
        real = os.path.realpath(entry.path) if is_link else os.path.join(real_folder, entry.name)
        return cls(Path(entry.path), real, is_link, is_dir)


def _plain_tree(root: Path) -> tuple[set[str], set[str]]:
    """Real paths of the visible folders and images under ``root`` reached without following links:
    a link to one of them is left out, as its images are listed at their own place."""
    dirs: set[str] = set()
    images: set[str] = set()
    real_root = os.path.realpath(root)
    for dirpath, dirnames, filenames in os.walk(root):
        real_dir = os.path.join(real_root, os.path.relpath(dirpath, root))
        dirs.add(os.path.normpath(real_dir))
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        images.update(
            os.path.normpath(os.path.join(real_dir, name))
            for name in filenames
            if is_image_file(Path(name)) and not os.path.islink(os.path.join(dirpath, name))
        )
    return dirs, images


def _contains(folder: str, path: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _duplicate(item: _Entry) -> Problem:
    what = "is a link to" if item.is_link else "is"
    return Problem(
        str(item.path),
        f"{what} {item.real}, which is listed already; left out so nothing is counted twice",
        Action.SKIP,
    )


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
