"""Writing files so that a reader (or a process killed half-way) never sees half a file.

Every file the project writes goes through :func:`atomic_file`: the data goes to a hidden
temporary file beside the target, which is flushed to disk and renamed over the target only
once complete; a failed write (a full disk) removes it, and its OSError names the target.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def naming_the_file(path: str | Path, temporary: str | Path | None = None) -> Iterator[None]:
    """Let an OSError raised inside name ``path`` when it names no file (a failed write, e.g. on a
    full disk, names none) or names the ``temporary`` file that stands for ``path`` until renamed."""
    try:
        yield
    except OSError as err:
        if err.filename is None or (temporary is not None and str(err.filename) == str(temporary)):
            err.filename = str(path)
        raise


def temporary_name(path: Path, per_process: bool = False) -> Path:
    """``.NAME.tmp`` beside ``path`` (``.NAME.tmpPID`` when several processes may write it)."""
    return path.with_name(f".{path.name}.tmp{os.getpid() if per_process else ''}")


@contextmanager
def atomic_file(path: str | Path, per_process: bool = False) -> Iterator[Path]:
    """Yields the temporary path to write; on leaving, fsyncs it and renames it to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(path, per_process)
    try:
        with naming_the_file(path, tmp):
            yield tmp
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: str | Path, text: str, per_process: bool = False) -> Path:
    with atomic_file(path, per_process) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)
