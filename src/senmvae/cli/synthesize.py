"""``senmvae synthesize``: turn a folder of clean images into realistic noisy ones.

    senmvae synthesize --model RUN_OR_FILE --input CLEAN_DIR --output OUT_DIR [--level 0.03]

Each output depends only on (--seed, image name, sample index): not on batch size, order or
process count. Outputs are written atomically, so a rerun skips finished images. Under
``torchrun --nproc-per-node N senmvae synthesize ...`` each process takes a disjoint share of
the images. OUT_DIR/pairs.json lists every (clean, noisy) pair with its noise level.

An input that cannot be used (unreadable, or pixels that are not finite or far outside [0, 1]) is
skipped with a one-line reason and the others go on; the run then ends with a list of the skipped
inputs and exit status 2. Fix or remove them and rerun: finished outputs are kept, whatever inputs
were added or removed in between. One run at a time may write into OUT_DIR.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

from tqdm import tqdm

from senmvae.device import resolve_device
from senmvae.generate.levels import LevelPolicy, parse_level
from senmvae.generate.noise_model import SAMPLERS, NoiseModel
from senmvae.generate.synthesize import Shard, synthesize_folder


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "synthesize",
        help="make noisy versions of a folder of clean images with a trained model",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--model",
        required=True,
        metavar="RUN_OR_FILE",
        help="training run folder (uses RUN/model.safetensors), a .safetensors model or an official .pth checkpoint",
    )
    parser.add_argument("--input", required=True, metavar="CLEAN_DIR", help="folder of clean images (recursive)")
    parser.add_argument("--output", required=True, metavar="OUT_DIR", help="folder for the noisy PNGs and pairs.json")
    levels = parser.add_argument_group("noise level (one of; default --level sidd)").add_mutually_exclusive_group()
    levels.add_argument(
        "--level",
        metavar="SPEC",
        help="a std on the [0, 1] scale (0.03), a range to draw from (0.01:0.05), a list (0.01,0.02,0.04), "
        "or 'sidd' (the SIDD prior of the official scripts)",
    )
    levels.add_argument(
        "--level-from-pair",
        nargs=2,
        metavar=("NOISY", "CLEAN"),
        help="the level of a reference noisy image, measured against its clean partner",
    )
    levels.add_argument(
        "--level-from-noisy",
        metavar="NOISY",
        help="the level of a reference noisy image, predicted from it alone (needs the level predictor)",
    )
    levels.add_argument(
        "--level-from-folder",
        metavar="TARGET_DIR",
        help="predict the level of every image of a folder of noisy images; each output draws one of them",
    )
    parser.add_argument(
        "--temperature", type=temperature, default=1.0, help="scale of the latent noise, >= 0 (default 1)"
    )
    parser.add_argument(
        "--sampler",
        choices=SAMPLERS,
        default="content-exact",
        help="content-exact (the default): add the noise that zn adds to the real clean image, which the shipped "
        "models' cards measure closest to the asked level on held-out images; paper: regenerate the whole image "
        "(the authors' sampler) (docs/generation.md)",
    )
    parser.add_argument(
        "--match-level",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="scale each image's noise to exactly the asked level (default: on for models trained on whole-image "
        "levels (data.level=image); off for the others)",
    )
    parser.add_argument(
        "--mean-correction", action="store_true", help="give each output channel the clean image's channel mean"
    )
    parser.add_argument("--seed", type=int, default=0, help="run seed (default 0)")
    parser.add_argument("--samples-per-image", "-k", type=int, default=1, metavar="K", help="noisy versions per image")
    parser.add_argument("--batch-size", type=int, default=1, help="images of one size per forward pass (default 1)")
    parser.add_argument("--device", default="auto", help="auto (default: cuda when available), cpu, cuda or cuda:N")
    parser.add_argument("--bits", type=int, choices=(8, 16), default=8, help="PNG bit depth (default 8)")
    parser.add_argument("--tile-size", type=int, default=512, help="larger images are processed in tiles (default 512)")
    parser.add_argument("--tile-overlap", type=int, default=64, help="overlap of neighbouring tiles (default 64)")
    parser.add_argument(
        "--exact",
        action="store_true",
        help="bit-identical results whatever the batch size and thread count (deterministic kernels; slower on CPU)",
    )
    parser.add_argument("--overwrite", action="store_true", help="regenerate every output, even existing ones")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def temperature(text: str) -> float:
    """A temperature read from the command line: a finite number >= 0, or an argparse error."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0 (1 is the model's own spread), got {text!r}")
    return value


def level_policy(args: argparse.Namespace, model: NoiseModel) -> LevelPolicy:
    if args.level_from_pair:
        return model.level_of_pair(*args.level_from_pair)
    if args.level_from_noisy:
        return model.level_of_noisy(args.level_from_noisy)
    if args.level_from_folder:
        return model.levels_of_folder(args.level_from_folder)
    return parse_level(args.level or "sidd")


def run(args: argparse.Namespace) -> int:
    shard = Shard.from_environment()
    device = resolve_device(args.device, local_rank=int(os.environ.get("LOCAL_RANK", "0")))
    model = NoiseModel.load(
        args.model,
        device=device,
        temperature=args.temperature,
        mean_correction=args.mean_correction,
        tile_size=args.tile_size,
        tile_overlap=args.tile_overlap,
        exact=args.exact,
        sampler=args.sampler,
        match_level=args.match_level,
    )
    policy = level_policy(args, model)
    result = synthesize_folder(
        model,
        args.input,
        args.output,
        level=policy,
        seed=args.seed,
        samples_per_image=args.samples_per_image,
        batch_size=args.batch_size,
        bits=args.bits,
        overwrite=args.overwrite,
        shard=shard,
        progress=not args.no_progress,
        warn=_warn,
    )
    where = f"process {shard.rank} of {shard.world_size}: " if shard.world_size > 1 else ""
    manifest = result.manifest or "written by the last process to finish"
    print(
        f"{where}wrote {result.written} noisy images to {args.output} "
        f"({result.skipped} were already there); sampler: {model.sampler}; level: {policy.describe()}"
        f"{' (matched exactly)' if model.match_level else ''}; "
        f"manifest: {manifest}"
    )
    if result.unreadable:
        print(unreadable_summary(result.unreadable, args.output), file=sys.stderr)
        return 2
    return 0


def _warn(message: str) -> None:
    tqdm.write(f"senmvae synthesize: warning: {message}", file=sys.stderr)  # above the progress bar


def unreadable_summary(inputs: list[Path], output: str) -> str:
    listed = "".join(f"\n  {path}" for path in inputs)
    return (
        f"senmvae synthesize: {len(inputs)} input{'s' if len(inputs) > 1 else ''} could not be used and "
        f"{'were' if len(inputs) > 1 else 'was'} skipped (the reasons are above; {output} has no outputs and "
        f"pairs.json no entries for them):{listed}\n"
        "Fix or remove them and rerun the same command: finished outputs are kept."
    )
