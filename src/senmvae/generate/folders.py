"""The clean (or reference noisy) images of a folder, named by their path inside it."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

from senmvae.data.collection import Action, Problem
from senmvae.data.layouts.folders import NOT_AN_IMAGE, keyed_images, scene_of_key
from senmvae.data.refs import FileImage
from senmvae.errors import UserError


def images_in_folder(
    folder: str | Path, what: str = "input", warn: Callable[[str], None] | None = None
) -> list[FileImage]:
    """Every image under ``folder`` (recursive, sorted), named ``sub/stem`` without the suffix.

    Two files that differ only in suffix, or a folder without images, are refused; other
    files are ignored. Links that loop or repeat images, and unreadable subfolders, are left
    out with a message to ``warn`` (default: a :class:`UserWarning`).
    """
    root = Path(folder)
    if not root.is_dir():
        raise UserError(f"{what} folder {root} does not exist or is not a folder")
    keyed, problems = keyed_images(root)
    refused = [str(p) for p in problems if p.action is Action.REFUSE]
    if refused:
        raise UserError(f"{what} folder {root}: " + "; ".join(refused))
    for problem in problems:
        if _worth_telling(problem):
            (warn or _warning)(str(problem))
    return [FileImage(key, scene_of_key(key), path) for key, path in keyed.items()]


def _worth_telling(problem: Problem) -> bool:
    """Everything left out but the files that are not images (a folder of photos often holds some)."""
    return not problem.message.startswith(NOT_AN_IMAGE)


def _warning(message: str) -> None:
    warnings.warn(message, stacklevel=3)
