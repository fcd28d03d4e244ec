"""Training checkpoints: atomic writes, the last N kept, and loading the newest readable one.

A checkpoint is a ``torch.save`` of plain dicts, tensors, numbers and strings (so
``torch.load(weights_only=True)`` reads it) holding the trainer state and the resolved config
as a dict: the file alone rebuilds the run. Temporary files that a killed run left behind are
removed when the run next prunes its checkpoints.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import torch

from senmvae.atomic import atomic_file
from senmvae.errors import UserError, torch_load_problem

FORMAT = "senmvae-train-checkpoint"
FORMAT_VERSION = 1
BEST_NAME = "best.pt"
_STEP_FILE = re.compile(r"^step_(\d+)\.pt$")
_TEMPORARY_FILE = re.compile(r"^\..+\.pt\.tmp$")  # what save_checkpoint writes before renaming


def checkpoint_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / "checkpoints"


def step_path(run_dir: str | Path, step: int) -> Path:
    return checkpoint_dir(run_dir) / f"step_{step:07d}.pt"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_checkpoint(payload: dict, path: str | Path) -> Path:
    """Write ``payload`` to ``path`` atomically: temporary file, fsync, rename, fsync of the folder.

    A process killed at any moment leaves either the previous file or the new one, never a
    truncated one (at worst a stray ``.*.tmp`` that loading ignores and pruning removes). A
    write that fails (a full disk) removes its temporary file.
    """
    path = Path(path)
    with atomic_file(path) as tmp:
        torch.save({"format": FORMAT, "format_version": FORMAT_VERSION, **payload}, tmp)
    _fsync_dir(path.parent)
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    path = Path(path)
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise UserError(f"checkpoint {path} does not exist") from None
    except Exception as err:  # torch raises many types for damaged files
        raise UserError(
            f"checkpoint {path} cannot be read ({torch_load_problem(err)}); delete it to fall back to an older one"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise UserError(f"{path} is not a senmvae training checkpoint")
    return payload


def step_checkpoints(run_dir: str | Path) -> list[tuple[int, Path]]:
    """``(step, path)`` of the run's step checkpoints, oldest first."""
    folder = checkpoint_dir(run_dir)
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _STEP_FILE.match(p.name))]
    return sorted(found)


def prune_checkpoints(run_dir: str | Path, keep_last: int) -> None:
    """Keep the last ``keep_last`` step checkpoints, and remove temporary files of interrupted saves.

    Called by the process that saves, right after a save, so no temporary file is in use then.
    """
    for _, path in step_checkpoints(run_dir)[:-keep_last]:
        path.unlink(missing_ok=True)
    folder = checkpoint_dir(run_dir)
    if folder.is_dir():
        for path in folder.iterdir():
            if _TEMPORARY_FILE.match(path.name):
                path.unlink(missing_ok=True)


def latest_checkpoint(run_dir: str | Path, map_location: str | torch.device = "cpu") -> dict | None:
    """The newest step checkpoint that loads (older ones are tried when the newest is damaged)."""
    for _, path in reversed(step_checkpoints(run_dir)):
        try:
            return load_checkpoint(path, map_location)
        except UserError as err:
            warnings.warn(str(err), stacklevel=2)
    return None
