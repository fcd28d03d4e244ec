"""``senmvae import-official IN OUT``: convert an official checkpoint to the project's format."""

from __future__ import annotations

import argparse
from pathlib import Path

from senmvae.model.io import save_model
from senmvae.model.official import load_official


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "import-official",
        help="convert a checkpoint of the authors' SeNM-VAE code to a .safetensors model",
        description="Read a plain state_dict written by the official SeNM-VAE code, infer its architecture "
        "from the tensor shapes and write it as a senmvae model (safetensors with its config).",
    )
    parser.add_argument("input", type=Path, help="official checkpoint (.pth)")
    parser.add_argument("output", type=Path, help="output model file (.safetensors)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    model = load_official(args.input)
    output = args.output if args.output.suffix == ".safetensors" else args.output.with_suffix(".safetensors")
    save_model(model, output, extra_metadata={"imported_from": args.input.name})
    cfg = model.config
    print(
        f"imported {args.input} -> {output}: {model.num_parameters() / 1e6:.2f} M parameters, "
        f"channels={cfg.channels}, levels_per_group={list(cfg.levels_per_group)}, zn_channels={cfg.zn_channels}, "
        f"num_down={cfg.num_down} (no noise-level predictor: generation needs an explicit level)"
    )
    return 0
