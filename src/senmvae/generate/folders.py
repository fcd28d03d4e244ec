"""The clean (or reference noisy) images of a folder, named by their path inside it."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

from senmvae.data.collection import Action, Problem
from senmvae.data.layouts.folders import IMAGE_KINDS, NOT_AN_IMAGE, keyed_images, scene_of_key
from senmvae.data.refs import FileImage
from senmvae.errors import UserError

# Image formats met in photo folders that the readers do not decode: named when met instead of
# being passed over as "not an image".
UNSUPPORTED_FORMATS = {
    ".gif": "GIF",
    ".webp": "WebP",
    ".heic": "HEIC",
    ".heif": "HEIF",
    ".avif": "AVIF",
    ".jxl": "JPEG XL",
    ".jp2": "JPEG 2000",
}


def images_in_folder(
    folder: str | Path, what: str = "input", warn: Callable[[str], None] | None = None
) -> list[FileImage]:
    """Every image under ``folder`` (recursive, sorted), named ``sub/stem`` without the suffix.

    Two files that differ only in suffix, or a folder without images, are refused; image files
    of formats that are not read (GIF, WebP, ...) are named in one warning; other files are
    ignored. Links that loop or repeat images, and unreadable subfolders, are left
    out with a message to ``warn`` (default: a :class:`UserWarning`).
    """
    root = Path(folder)
    if not root.is_dir():
        raise UserError(f"{what} folder {root} does not exist or is not a folder")
    keyed, problems = keyed_images(root)
    unsupported = [
        Path(p.location)
        for p in problems
        if p.message.startswith(NOT_AN_IMAGE) and Path(p.location).suffix.lower() in UNSUPPORTED_FORMATS
    ]
    formats = sorted({UNSUPPORTED_FORMATS[path.suffix.lower()] for path in unsupported})
    not_read = (
        f"{len(unsupported)} {'/'.join(formats)} image{'s' if len(unsupported) > 1 else ''} "
        f"({', '.join(str(p) for p in unsupported[:3])}{', ...' if len(unsupported) > 3 else ''}): "
        f"{'/'.join(formats)} is not a format this tool reads ({IMAGE_KINDS} are); convert them to PNG"
    )
    if not keyed:
        raise UserError(
            f"{what} folder {root} holds no image in a format this tool reads ({IMAGE_KINDS})"
            + (f"; it holds {not_read}" if unsupported else "; add images or choose another folder")
        )
    refused = [str(p) for p in problems if p.action is Action.REFUSE]
    if refused:
        raise UserError(f"{what} folder {root}: " + "; ".join(refused))
    if unsupported:
        (warn or _warning)(f"left out {not_read} to include them")
    for problem in problems:
        if _worth_telling(problem):
            (warn or _warning)(str(problem))
    return [FileImage(key, scene_of_key(key), path) for key, path in keyed.items()]


def _worth_telling(problem: Problem) -> bool:
    """Everything left out but the files that are not images (a folder of photos often holds some)."""
    return not problem.message.startswith(NOT_AN_IMAGE)


def _warning(message: str) -> None:
    warnings.warn(message, stacklevel=3)
