"""Training SeNM-VAE: typed configuration and presets, the Trainer, and runs in a folder (docs/training.md)."""

from senmvae.train.config import TRAIN_PRESETS, TrainConfig, resolve_config, train_preset
from senmvae.train.run import resume_run, start_run
from senmvae.train.trainer import Trainer

__all__ = ["TRAIN_PRESETS", "TrainConfig", "Trainer", "resolve_config", "resume_run", "start_run", "train_preset"]
