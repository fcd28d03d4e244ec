"""``senmvae benchmark``: train SeNM-VAE and baselines, score their noise and their denoisers
(``--task denoise``) or the SR networks their LR images train (``--task sr``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from senmvae.config import ConfigError
from senmvae.evaluation import BenchmarkConfig, run_benchmark
from senmvae.evaluation.run import markdown_table
from senmvae.evaluation.sr_config import SRBenchmarkConfig

TASKS = ("denoise", "sr")


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
        "--config", type=Path, default=None, metavar="FILE.yaml",
        help="benchmark settings (docs/benchmark.md; for --task sr docs/sr.md)",
    )  # fmt: skip
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


def config_from_args(args: argparse.Namespace) -> BenchmarkConfig | SRBenchmarkConfig:
    """Defaults, then the --config file, then the flags given, then --set."""
    kind = SRBenchmarkConfig if getattr(args, "task", "denoise") == "sr" else BenchmarkConfig
    if args.config:
        cfg = kind.from_yaml(args.config)
    else:
        cfg = kind(budget_minutes=args.default_budget)
    given = {key: getattr(args, flag) for flag, key in FLAGS.items() if getattr(args, flag) is not None}
    if "train" in given:
        given["train"] = str(given["train"])
    if getattr(args, "photos", None):
        if kind is not SRBenchmarkConfig:
            raise ConfigError("--photos builds the simulated SR set and needs --task sr")
        given["photos"] = [str(p) for p in args.photos]
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
    parser.add_argument(
        "--task", choices=TASKS, default="denoise",
        help="denoise (default): noise models judged by DnCNN; sr: degradation models judged by an RRDB SR "
        "network on an AIM 2019 / NTIRE 2020 layout or, with --train default, the simulated SR set (docs/sr.md)",
    )  # fmt: skip
    parser.add_argument(
        "--photos", type=Path, nargs="+", default=None, metavar="DIR",
        help="with --task sr and --train default: folders of clean photos added to the simulated SR set "
        "(e.g. ../shared/data/clean)",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    if isinstance(cfg, SRBenchmarkConfig):
        from senmvae.evaluation.sr_run import markdown_table as sr_table
        from senmvae.evaluation.sr_run import run_sr_benchmark

        document = run_sr_benchmark(cfg, args.out)
        print(sr_table(document))
        print(f"\nresults: {args.out / 'results.json'}\nreport:  {args.out / 'report.html'}")
        return 0
    document = run_benchmark(cfg, args.out)
    print(markdown_table(document))
    print(f"\nresults: {args.out / 'results.json'}\nreport:  {args.out / 'report.html'}")
    return 0
