"""The paper's experiments (Tables 2, 3, 6, 7, Figure 7 and the AIM 2019 degradation) as one
resumable runner: ``senmvae paper configs/paper/NAME.yaml --out DIR`` (docs/paper.md)."""

from senmvae.experiments.config import Cell, ExperimentConfig, FinetuneConfig
from senmvae.experiments.run import run_experiment

__all__ = ["Cell", "ExperimentConfig", "FinetuneConfig", "run_experiment"]
