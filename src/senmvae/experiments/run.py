"""Running one paper experiment: every cell once per seed, each a benchmark of its own (kind
"cells") or the Table 3 fine-tuning protocol (kind "finetune"), then the table over the seeds.

Resumable: a cell's run lives in ``OUT/cells/<hash of its settings>/seed<k>`` and is reused when
its ``results.json`` was written with the same settings, so a stopped experiment goes on where
it stopped, and experiments run into the same ``OUT`` share the runs they have in common (Table
6's full model is a cell of Table 7 and Figure 7 too). A benchmark stopped half-way reuses its
finished SeNM-VAE training.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from senmvae.config import ConfigError
from senmvae.data import load_spec
from senmvae.errors import UserError
from senmvae.evaluation.config import BenchmarkConfig
from senmvae.evaluation.fidelity import benchmark_split
from senmvae.evaluation.run import run_benchmark, write_json
from senmvae.experiments.config import RESULTS, Cell, ExperimentConfig
from senmvae.experiments.finetune import TRAINING_CLEAN, run_finetune
from senmvae.experiments.report import write_experiment_report
from senmvae.generate.ownership import file_sha256
from senmvae.model.io import resolve_model_path
from senmvae.progress import progress_bar


def _say(message: str) -> None:
    tqdm.write(f"[paper] {message}")


@dataclass(frozen=True)
class CellRun:
    """One cell at one seed: its settings and where it runs."""

    cell: Cell
    seed: int
    config: ExperimentConfig  # the experiment's settings with the cell's applied, for this seed
    folder: Path


def _all_pairs(benchmark: BenchmarkConfig, split_seed: int) -> int:
    """How many pairs of ``benchmark.train`` lie outside the held-out scenes of its split."""
    collection = load_spec(benchmark.train)
    held = {p.scene for p in benchmark_split(collection, 1, split_seed, benchmark.validation_fraction).validation}
    return sum(1 for p in collection.paired if p.scene not in held)


def cell_config(cfg: ExperimentConfig, cell: Cell, seed: int) -> ExperimentConfig:
    """The experiment's settings with ``cell``'s applied: its KEY=VALUE settings, its training
    overrides after the benchmark's, the training seed ``seed`` and one split for every seed."""
    plain = [s for s in cell.settings if s.replace(" ", "") != "benchmark.paired=all"]
    applied = cfg.with_overrides(plain)
    split_seed = applied.benchmark.split_seed if applied.benchmark.split_seed is not None else cfg.seeds[0]
    changes: dict = {
        "seed": seed,
        "split_seed": split_seed,
        "train_overrides": applied.benchmark.train_overrides + cell.train_overrides,
    }
    if len(plain) < len(cell.settings):
        changes["paired"] = _all_pairs(applied.benchmark, split_seed)
    return applied.replace(benchmark=applied.benchmark.replace(**changes))


def _digest(document: dict) -> str:
    return hashlib.sha256(json.dumps(document, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _model_digests(config: ExperimentConfig, known: dict[str, str]) -> dict[str, str]:
    """The content hash of every model file a cell reads (``benchmark.init``, ``finetune.model``),
    so that a model updated under the same name or folder gets runs of its own instead of reusing
    another model's results; ``known`` caches the hashes by file."""
    names = {"benchmark.init": config.benchmark.init}
    if config.kind == "finetune":
        names["finetune.model"] = config.finetune.model
    digests = {}
    for key, name in names.items():
        if name:
            path = str(resolve_model_path(name))
            if path not in known:
                known[path] = file_sha256(Path(path))
            digests[key] = known[path]
    return digests


def plan_cells(cfg: ExperimentConfig, out: Path) -> list[CellRun]:
    """Every (cell, seed) of the experiment with its settings checked, before anything runs."""
    runs = []
    known: dict[str, str] = {}
    for cell in cfg.cells:
        for seed in cfg.seeds:
            try:
                applied = cell_config(cfg, cell, seed)
                models = _model_digests(applied, known)
            except UserError as err:
                raise UserError(f"cell {cell.name!r} of {cfg.name}: {err}") from None
            key = {"kind": cfg.kind, "benchmark": applied.benchmark.to_dict()}
            if cfg.kind == "finetune":
                key["finetune"] = applied.finetune.to_dict()
            if models:
                key["models"] = models
            runs.append(CellRun(cell, seed, applied, out / "cells" / _digest(key) / f"seed{seed}"))
    return runs


def check_inputs(runs: list[CellRun]) -> None:
    """Refuse an experiment whose data cannot be read, naming the file, before any run (its models
    are read by :func:`plan_cells`)."""
    seen: set[str] = set()
    for run in runs:
        needed = [("benchmark.train", run.config.benchmark.train)]
        if run.config.benchmark.eval:
            needed.append(("benchmark.eval", run.config.benchmark.eval))
        if run.config.kind == "finetune" and run.config.finetune.clean != TRAINING_CLEAN:
            needed.append(("finetune.clean", run.config.finetune.clean))
        for key, spec in needed:
            if spec in seen or spec == "default":
                continue
            seen.add(spec)
            if not Path(spec).expanduser().exists():
                raise UserError(
                    f"cell {run.cell.name!r}: {key} {spec} does not exist; the paper experiments read the real data "
                    "in ../shared/data (docs/paper.md), or pass --set benchmark.train=SPEC"
                )


def _finished(folder: Path, settings: dict) -> dict | None:
    path = folder / RESULTS
    if not path.is_file():
        return None
    try:
        document = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return document if document.get("settings", document.get("config")) == settings else None


def run_cell(run: CellRun) -> dict:
    """The cell's results at its seed: reused when finished with the same settings, else run."""
    finetune = run.config.kind == "finetune"
    settings = run.config.benchmark.to_dict()
    if finetune:  # what run_finetune records under "settings"
        settings = {"benchmark": settings, "finetune": run.config.finetune.to_dict()}
    document = _finished(run.folder, settings)
    if document is None:
        document = run_finetune(run.config, run.folder) if finetune else run_benchmark(run.config.benchmark, run.folder)
    return document


def _spread(values: list[float]) -> dict[str, float]:
    array = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=np.float64)
    if not len(array):
        return {}
    spread = {"mean": float(array.mean()), "n": int(len(array))}
    if len(array) > 1:
        spread["std"] = float(array.std(ddof=1))
    return spread


def aggregate(cfg: ExperimentConfig, runs: list[CellRun], documents: list[dict]) -> dict:
    """Per cell and row, each metric's mean (and sample std) over the seeds; the runs behind them."""
    cells: dict[str, dict] = {}
    for run, document in zip(runs, documents):
        entry = cells.setdefault(
            run.cell.name, {"paper": run.cell.paper, "settings": list(run.cell.settings), "seeds": {}, "rows": {}}
        )
        models = document.get("models", {})
        rows = cfg.rows + (cfg.reference_rows if run.cell.name == cfg.cells[0].name else ())
        entry["seeds"][str(run.seed)] = {
            "folder": str(run.folder),
            "rows": {row: {m: models.get(row, {}).get(m) for m in cfg.metrics} for row in rows if row in models},
            "runs": document.get("runs", {}),
            "senmvae_steps": int(document.get("runs", {}).get("senmvae", {}).get("steps", 0)),
            "real_gain_db": document.get("downstream", {}).get("real_gain_db"),
            "minutes": round(document.get("timing", {}).get("total_s", 0.0) / 60.0, 2),
            "data": document.get("data", {}),
        }
    for entry in cells.values():
        for row in cfg.rows + cfg.reference_rows:
            per_seed = [s["rows"].get(row) for s in entry["seeds"].values() if row in s["rows"]]
            if per_seed:
                entry["rows"][row] = {m: _spread([p.get(m) for p in per_seed]) for m in cfg.metrics}
    return cells


def run_experiment(cfg: ExperimentConfig, out: str | Path) -> dict:
    """Run (or resume) every cell at every seed, then write ``OUT/<name>/results.json``,
    ``results.md`` and ``report.html``; returns the results."""
    out = Path(out)
    runs = plan_cells(cfg, out)
    check_inputs(runs)
    started = time.perf_counter()
    documents = []
    bar = progress_bar(runs, desc=f"{cfg.name}: cells x seeds", unit="run")
    for run in bar:
        bar.set_postfix_str(f"{run.cell.name}, seed {run.seed}")
        _say(f"{run.cell.name}, seed {run.seed}: {run.folder}")
        documents.append(run_cell(run))
    results = {
        "experiment": cfg.name,
        "title": cfg.title,
        "paper": cfg.paper,
        "kind": cfg.kind,
        "rows": list(cfg.rows),
        "reference_rows": list(cfg.reference_rows),
        "metrics": list(cfg.metrics),
        "seeds": list(cfg.seeds),
        "cells": aggregate(cfg, runs, documents),
        "minutes_this_call": round((time.perf_counter() - started) / 60.0, 2),
        "minutes_all_runs": round(sum(d.get("timing", {}).get("total_s", 0.0) for d in documents) / 60.0, 2),
        "machine": f"{os.cpu_count()} CPU cores, torch {torch.__version__}, "
        f"{torch.get_num_threads()} thread(s), device {cfg.benchmark.device}",
        "config": cfg.to_dict(),
    }
    folder = out / cfg.name
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / RESULTS, results)
    write_experiment_report(results, folder)
    return results


def load_experiment(path: str | Path, overrides: list[str] | None = None) -> ExperimentConfig:
    """An experiment's YAML with KEY=VALUE overrides, refused with the file named when it is wrong."""
    try:
        return ExperimentConfig.from_yaml(path).with_overrides(list(overrides or []))
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None
