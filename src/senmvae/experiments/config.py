"""Settings of one paper experiment: the benchmark every cell starts from, the cells, the seeds."""

from __future__ import annotations

from dataclasses import dataclass, field

from senmvae.config import Config, ConfigError
from senmvae.evaluation.config import BenchmarkConfig

KINDS = ("cells", "finetune")
RESULTS = "results.json"  # what every cell run and every experiment writes


@dataclass
class Cell(Config):
    """One column or row of a paper table: the experiment's settings with ``settings`` applied."""

    name: str = ""
    paper: str = ""  # the paper's figure for this cell (on SIDD), shown beside ours
    # KEY=VALUE on the experiment's settings (benchmark.paired=40, finetune.model=renoir, ...);
    # benchmark.paired=all: every pair outside the held-out scenes
    settings: tuple[str, ...] = ()
    train_overrides: tuple[str, ...] = ()  # appended to benchmark.train_overrides

    def __post_init__(self) -> None:
        if not self.name or "/" in self.name:
            raise ConfigError(f"every cell needs a name without '/', got {self.name!r}")


@dataclass
class FinetuneConfig(Config):
    """The paper's Table 3: a denoiser trained on the real training pairs, then trained further
    either on more of the same or on a mix with synthetic pairs made from clean photos."""

    model: str = "polyu"  # SeNM-VAE that makes the synthetic pairs: shipped name, run folder or file
    sampler: str = "content-exact"
    # folder of clean photos, or "training": the training pairs' own clean images
    clean: str = "../shared/data/clean/BSDS500-train-test"
    max_clean: int = 100  # photos used (sorted by name), each centre-cropped to clean_crop
    clean_crop: int = 256
    pretrain_steps: int = 1500  # on the real training pairs
    steps: int = 500  # further steps of every fine-tuning row
    lr: float = 2e-4  # peak rate of the further steps (the schedule of benchmark.denoiser restarts)
    paired_fraction: float = 0.5  # share of real crops in each fine-tuning batch of the synthetic rows

    def __post_init__(self) -> None:
        if self.max_clean < 1 or self.clean_crop < 16 or self.pretrain_steps < 1 or self.steps < 1:
            raise ConfigError("finetune: max_clean, pretrain_steps and steps must be >= 1 and clean_crop >= 16")
        if self.lr <= 0 or not 0.0 <= self.paired_fraction <= 1.0:
            raise ConfigError("finetune: lr must be > 0 and paired_fraction within [0, 1]")


@dataclass
class ExperimentConfig(Config):
    name: str = ""  # the output sub-folder
    title: str = ""
    paper: str = ""  # where in the paper, and what it claims
    kind: str = "cells"  # "cells": a benchmark per cell and seed; "finetune": Table 3
    seeds: tuple[int, ...] = (0, 1)  # each cell is run once per seed (training seed; the split stays)
    benchmark: BenchmarkConfig = field(default_factory=BenchmarkConfig)
    cells: tuple[Cell, ...] = ()
    rows: tuple[str, ...] = ("senmvae_content_exact",)  # benchmark rows each cell contributes
    # rows that every cell shares (fitted baselines, the real noise): shown once, from the first cell
    reference_rows: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ("kl_noise_neca", "akld_danet", "akld_reverse", "lag1", "channels")
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)

    def __post_init__(self) -> None:
        if not self.name or "/" in self.name:
            raise ConfigError(f"the experiment needs a name without '/', got {self.name!r}")
        if self.kind not in KINDS:
            raise ConfigError(f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if not self.seeds or len(set(self.seeds)) < len(self.seeds):
            raise ConfigError(f"seeds must be distinct and at least one, got {list(self.seeds)}")
        names = [cell.name for cell in self.cells]
        if not names or len(set(names)) < len(names):
            raise ConfigError(f"an experiment needs cells with distinct names, got {names}")
