"""``senmvae demo``: the whole tool in a few minutes on data that needs no download."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from senmvae.cli.benchmark import add_benchmark_arguments, config_from_args
from senmvae.evaluation import run_benchmark
from senmvae.evaluation.config import BenchmarkConfig
from senmvae.evaluation.run import markdown_table


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "demo",
        help="fine-tune the shipped base model, synthesize noisy images and write a benchmark report (minutes)",
        description="Fine-tune the shipped base model (or --init MODEL) on the embedded dataset (or --train SPEC, "
        "e.g. ../shared/data/polyu), "
        "benchmark it against the baselines, synthesize noisy versions of the held-out clean images and write "
        "report.html. The budget covers training, synthesis, metrics and the downstream denoisers.",
    )
    add_benchmark_arguments(parser, default_budget=7.0)
    parser.add_argument(
        "--out", type=Path, default=Path("demo_out"), metavar="DIR", help="output folder (default demo_out)"
    )
    parser.set_defaults(func=run)


def demo_config(args: argparse.Namespace) -> BenchmarkConfig:
    """The benchmark the demo runs: fine-tuning the shipped base unless told otherwise."""
    if args.config is None:
        # The demo fine-tunes the shipped base model: a few minutes of CPU cannot train one from scratch.
        args.init = "base" if args.init is None else args.init
        args.from_scratch = False if args.from_scratch is None else args.from_scratch
    cfg = config_from_args(args)
    if cfg.train == "default":
        # The pixel-noise head's std network learns at the VAE's rate; its colouring (a few hundred
        # weights, which the embedded set's 6 tiles do determine) faster, to move from base's real
        # cameras to this set's (docs/training.md, "Fine-tuning the pixel-noise head"); a --set of
        # train_overrides comes after this and wins.
        colouring = ("optim.pixel_noise_colour_lr=2e-3",)
        cfg = cfg.merged({"train_overrides": (*colouring, *cfg.train_overrides)})
    if args.config is None and not any(item.partition("=")[0].strip() == "denoiser_training" for item in args.set):
        # Both training modes would be 16 denoisers in the denoisers' 147 s of the 7 minutes,
        # about 450 steps each; the paper's Table 1 protocol alone gives each about 900.
        cfg = cfg.merged({"denoiser_training": ("synthetic",)})
    return cfg


def run(args: argparse.Namespace) -> int:
    from senmvae.data import load_spec
    from senmvae.data.io import write_image
    from senmvae.generate import ChoiceLevel, NoiseModel, measure_level
    from senmvae.generate.synthesize import synthesize_folder

    started = time.perf_counter()
    cfg = demo_config(args)
    document = run_benchmark(cfg, args.out)

    # The synthesize path on held-out clean images, at noise levels measured on held-out pairs.
    clean_dir, noisy_dir = args.out / "examples" / "clean", args.out / "examples" / "noisy"
    examples = load_spec(args.out / "split.json").validation[:4]
    levels = []
    for pair in examples:
        clean = pair.clean.load()
        write_image(clean_dir / f"{pair.name}.png", clean)
        levels.append(measure_level(pair.noisy.load(), clean))
    run_dir = args.out / "runs" / ("senmvae_finetuned" if cfg.init else "senmvae")
    model = NoiseModel.load(run_dir, device=cfg.device, sampler="content-exact")
    if examples:
        synthesize_folder(model, clean_dir, noisy_dir, level=ChoiceLevel(tuple(levels)), seed=cfg.seed)

    print(markdown_table(document))
    minutes = (time.perf_counter() - started) / 60
    print(
        f"\ndemo finished in {minutes:.1f} min\n"
        f"  report:      {args.out / 'report.html'}  (open it in a browser)\n"
        f"  results:     {args.out / 'results.json'}\n"
        f"  trained run: {run_dir}\n"
        f"  synthesized: {noisy_dir} (from {clean_dir})"
    )
    return 0
