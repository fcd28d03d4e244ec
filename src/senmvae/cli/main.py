"""Entry point of the ``senmvae`` command: one sub-command per module in this package.

Each command module exposes ``register(subparsers)``, which adds its parser and sets
``func`` to a ``run(args) -> int`` function. Errors derived from :class:`UserError` are
printed as one message without a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from senmvae.errors import UserError

COMMAND_MODULES = [
    "senmvae.cli.import_official",
    "senmvae.cli.data",
    "senmvae.cli.train",
    "senmvae.cli.synthesize",
    "senmvae.cli.benchmark",
    "senmvae.cli.demo",
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
    except KeyboardInterrupt:
        print(f"senmvae {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
