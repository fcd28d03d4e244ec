"""``senmvae benchmark``: train SeNM-VAE and baselines, score their noise and their denoisers."""

from __future__ import annotations

import argparse
from pathlib import Path

from senmvae.evaluation import BenchmarkConfig, run_benchmark
from senmvae.evaluation.run import markdown_table


def add_benchmark_arguments(parser: argparse.ArgumentParser, default_budget: float) -> None:
    """Flags default to None so that only the flags given override a --config file."""
    parser.add_argument(
        "--train", "--data", dest="train", default=None, metavar="SPEC",
        help="training data: a dataset folder (e.g. ../shared/data/polyu), manifest, YAML spec or 'default' "
        "(the embedded set)",
    )  # fmt: skip
    parser.add_argument(
        "--eval", default=None, metavar="SPEC", help="evaluation pairs (default: held-out scenes of --train)"
    )
    parser.add_argument(
        "--paired", type=int, default=None, metavar="N", help="pairs kept paired when splitting (default 10)"
    )
    parser.add_argument(
        "--budget", type=float, default=None, metavar="MINUTES", help=f"wall-clock budget (default {default_budget:g})"
    )
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--preset", default=None, help="training preset of the SeNM-VAE runs (default cpu)")
    parser.add_argument(
        "--init", default=None, metavar="MODEL",
        help="fine-tune from this model (base, polyu, a run folder or .safetensors): adds the fine-tuned rows",
    )  # fmt: skip
    parser.add_argument(
        "--no-scratch", dest="from_scratch", action="store_false", default=None,
        help="with --init: skip the from-scratch run",
    )  # fmt: skip
    parser.add_argument("--device", default=None, help="cpu or cuda")
    parser.add_argument(
        "--config", type=Path, default=None, metavar="FILE.yaml", help="benchmark settings (see docs/benchmark.md)"
    )
    parser.set_defaults(default_budget=default_budget)
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override one setting (repeatable)"
    )


FLAGS = {
    "train": "train",
    "eval": "eval",
    "paired": "paired",
    "budget": "budget_minutes",
    "seed": "seed",
    "preset": "preset",
    "init": "init",
    "from_scratch": "from_scratch",
    "device": "device",
}


def config_from_args(args: argparse.Namespace) -> BenchmarkConfig:
    """Defaults, then the --config file, then the flags given, then --set."""
    if args.config:
        cfg = BenchmarkConfig.from_yaml(args.config)
    else:
        cfg = BenchmarkConfig(budget_minutes=args.default_budget)
    given = {key: getattr(args, flag) for flag, key in FLAGS.items() if getattr(args, flag) is not None}
    if "train" in given:
        given["train"] = str(given["train"])
    return cfg.merged(given).with_overrides(args.set)


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "benchmark",
        help="compare SeNM-VAE with baseline noise models (realism metrics and downstream denoising)",
        description="Split the data by scene, train SeNM-VAE and its paired-only variant, fit the AWGN and "
        "heteroscedastic baselines, synthesize the evaluation images, compute every metric, train one DnCNN per "
        "noise model and test it on real pairs. Writes results.json, results.md and report.html.",
    )
    add_benchmark_arguments(parser, default_budget=30.0)
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    document = run_benchmark(config_from_args(args), args.out)
    print(markdown_table(document))
    print(f"\nresults: {args.out / 'results.json'}\nreport:  {args.out / 'report.html'}")
    return 0
