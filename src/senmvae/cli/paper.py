"""``senmvae paper``: run (or resume) one of the paper's experiments from its YAML (docs/paper.md)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "paper",
        help="run one of the paper's experiments (Tables 2, 3, 6, 7, Figure 7, AIM 2019) from configs/paper",
        description="Run every cell of an experiment once per seed (each a benchmark run, resumable), then write "
        "OUT/NAME/results.json, results.md and report.html with the mean and spread over the seeds beside the "
        "paper's numbers. Experiments run into the same OUT share the runs they have in common.",
    )
    parser.add_argument("config", type=Path, metavar="EXPERIMENT.yaml", help="e.g. configs/paper/table6.yaml")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder (shared by experiments)")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE",
        help="override one setting, e.g. benchmark.budget_minutes=2 or seeds=[0] (repeatable)",
    )  # fmt: skip
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from senmvae.experiments.report import markdown
    from senmvae.experiments.run import load_experiment, run_experiment

    cfg = load_experiment(args.config, args.set)
    results = run_experiment(cfg, args.out)
    print(markdown(results))
    folder = args.out / cfg.name
    print(f"results: {folder / 'results.json'}\nreport:  {folder / 'report.html'}")
    return 0
