"""The clean (or reference noisy) images of a folder, named by their path inside it."""

from __future__ import annotations

from pathlib import Path

from senmvae.data.dataset import Action
from senmvae.data.layouts.folders import keyed_images, scene_of_key
from senmvae.data.refs import FileImage
from senmvae.errors import UserError


def images_in_folder(folder: str | Path, what: str = "input") -> list[FileImage]:
    """Every image under ``folder`` (recursive, sorted), named ``sub/stem`` without the suffix.

    Two files that differ only in suffix, or a folder without images, are refused; other
    files are ignored.
    """
    root = Path(folder)
    if not root.is_dir():
        raise UserError(f"{what} folder {root} does not exist or is not a folder")
    keyed, problems = keyed_images(root)
    refused = [str(p) for p in problems if p.action is Action.REFUSE]
    if refused:
        raise UserError(f"{what} folder {root}: " + "; ".join(refused))
    return [FileImage(key, scene_of_key(key), path) for key, path in keyed.items()]
