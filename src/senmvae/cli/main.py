"""Entry point of the ``senmvae`` command: one sub-command per module in this package.

Each command module exposes ``register(subparsers)``, which adds its parser and sets
``func`` to a ``run(args) -> int`` function. Errors derived from :class:`UserError`, and
file-system errors the user can fix (disk full, read-only disk, permission denied, a file where
a folder is needed), are printed as one message without a traceback, with exit status 2.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import sys
from pathlib import Path

from senmvae.errors import UserError

COMMAND_MODULES = [
    "senmvae.cli.import_official",
    "senmvae.cli.data",
    "senmvae.cli.train",
    "senmvae.cli.synthesize",
    "senmvae.cli.benchmark",
    "senmvae.cli.paper",
    "senmvae.cli.demo",
    "senmvae.cli.models",
]


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="senmvae",
        description="Learn how a camera degrades images (SeNM-VAE) and synthesize realistic noisy training data.",
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def _version() -> str:
    from senmvae import __version__

    return f"senmvae {__version__}"


def main(argv: list[str] | None = None) -> int:
    parser = get_args_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except UserError as err:
        print(f"senmvae {args.command}: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        message = fixable_os_error(err)
        if message is None:
            raise
        print(f"senmvae {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"senmvae {args.command}: interrupted", file=sys.stderr)
        return 130


MOVE_IT = "move or rename it, or choose another path"


def fixable_os_error(err: OSError) -> str | None:
    """One message naming the path and what to do, for the file-system errors a user can fix; else None."""
    where = str(err.filename) if err.filename is not None else "a file"
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        return (
            f"no space left on the device (or disk quota exceeded) while writing {where}; free some space or "
            "write to another disk, and run the command again (files finished before are complete: every "
            "file is written to a temporary name and renamed when done)"
        )
    if err.errno == errno.EROFS:
        return f"{where} is on a read-only file system; choose an output place on a writable disk"
    if err.errno in (errno.EACCES, errno.EPERM):
        return f"permission denied for {where}; change its permissions or choose another place"
    if err.errno == errno.ENOTDIR:
        blocker = file_in_the_way(Path(where))
        inside = f" (on the way to {where})" if blocker else ""
        return f"{blocker or where} is a file where a folder is needed{inside}; {MOVE_IT}"
    if err.errno == errno.EEXIST and err.filename is not None and Path(where).exists() and not Path(where).is_dir():
        return f"{where} is a file where a folder is needed; {MOVE_IT}"
    if err.errno == errno.EISDIR:
        folder = str(err.filename2) if err.filename2 is not None else where
        return f"{folder} is a folder where a file is needed; remove it or choose another file name"
    return None


def file_in_the_way(path: Path) -> Path | None:
    """The nearest existing parent of ``path`` when it is a file (so ``path`` cannot be created), else None."""
    for parent in path.parents:
        if parent.exists():
            return None if parent.is_dir() else parent
    return None


if __name__ == "__main__":
    sys.exit(main())
