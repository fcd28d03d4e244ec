"""``senmvae import-official IN OUT``: convert an official checkpoint to the project's format."""

from __future__ import annotations

import argparse
from pathlib import Path

from senmvae.cli.main import file_in_the_way
from senmvae.errors import UserError
from senmvae.model.io import save_model
from senmvae.model.official import load_official


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "import-official",
        help="convert a checkpoint of the authors' SeNM-VAE code to a .safetensors model",
        description="Read a plain state_dict written by the official SeNM-VAE code, infer its architecture "
        "from the tensor shapes and write it as a senmvae model (safetensors with its config) to exactly OUT.",
    )
    parser.add_argument("input", type=Path, help="official checkpoint (.pth)")
    parser.add_argument("output", type=Path, help="output model file (.safetensors advised; written as given)")
    parser.set_defaults(func=run)


def check_output(output: Path) -> None:
    """Refuse, before any work, an output that cannot be written or read back as a model."""
    if output.is_dir():
        raise UserError(f"output {output} is a folder; give a file name, such as {output / 'model.safetensors'}")
    if blocker := file_in_the_way(output):
        raise UserError(
            f"cannot write {output}: {blocker} is a file where a folder is needed; move it or choose another output"
        )
    if output.suffix in (".pth", ".pt"):
        raise UserError(
            f"output {output}: a {output.suffix} file would be read back as an official checkpoint; "
            "name it .safetensors"
        )


def run(args: argparse.Namespace) -> int:
    check_output(args.output)
    model = load_official(args.input)
    save_model(model, args.output, extra_metadata={"imported_from": args.input.name})
    cfg = model.config
    print(
        f"imported {args.input} -> {args.output}: {model.num_parameters() / 1e6:.2f} M parameters, "
        f"channels={cfg.channels}, levels_per_group={list(cfg.levels_per_group)}, zn_channels={cfg.zn_channels}, "
        f"num_down={cfg.num_down} (no noise-level predictor: generation needs an explicit level); "
        f"use it with --model {args.output}"
    )
    return 0
