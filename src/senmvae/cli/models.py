"""``senmvae models``: the pretrained models that ship with the package, and their cards."""

from __future__ import annotations

import argparse

from senmvae.model.io import read_metadata
from senmvae.pretrained import PRETRAINED, model_card, pretrained_path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "models",
        help="list the shipped pretrained models, or print one's model card",
        description="List the pretrained models that ship with senmvae (use them as --model NAME or "
        "--init NAME), or print the card of one: its data and their licences, training and held-out numbers.",
    )
    parser.add_argument("name", nargs="?", choices=PRETRAINED, help="print this model's card")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.name:
        print(model_card(args.name))
        return 0
    # The file records the run that wrote it; a model continued from another (polyu from base,
    # base over three runs) has more steps behind it, which its card counts.
    for name in PRETRAINED:
        path = pretrained_path(name)
        meta = read_metadata(path)
        first = model_card(name).splitlines()[0].lstrip("# ")
        last_run = f"{meta.get('step', '?')} steps, {meta.get('training_minutes', '?')} min"
        print(
            f"{name:<6} {first}\n       {path} ({path.stat().st_size / 1e6:.1f} MB); its last training run: "
            f"{last_run}; the card (senmvae models {name}) counts every run"
        )
    return 0
