"""Small datasets, configs, batches and state comparisons shared by the training tests."""

import os
from pathlib import Path

import numpy as np
import torch

from senmvae.data.io import write_image
from senmvae.train.config import TrainConfig, resolve_config

SCENES = 12
ROOT = Path(__file__).resolve().parents[2]
SUBPROCESS_ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT / "src")}


def tensors(state, prefix: str = "") -> dict[str, torch.Tensor]:
    """Every tensor of a nested trainer state (weights, EMA, optimizer moments), by path."""
    if isinstance(state, torch.Tensor):
        return {prefix: state}
    items = state.items() if isinstance(state, dict) else enumerate(state) if isinstance(state, list) else []
    out = {}
    for key, value in items:
        out.update(tensors(value, f"{prefix}.{key}"))
    return out


def learned_state(trainer_state: dict) -> dict[str, torch.Tensor]:
    parts = ("model", "discriminator", "ema", "optimizer", "discriminator_optimizer")
    return {k: v for part in parts for k, v in tensors(trainer_state[part], part).items()}


def write_pairs(root: Path, scenes: int = SCENES, size: int = 40, seed: int = 0) -> Path:
    """clean/ + noisy/ folders of ``scenes`` pairs with Gaussian noise of a different std per scene."""
    rng = np.random.default_rng(seed)
    for i in range(scenes):
        clean = rng.uniform(0.2, 0.8, (size, size, 3)).astype(np.float32)
        noisy = np.clip(clean + rng.normal(0, 0.02 + 0.01 * i, clean.shape), 0, 1).astype(np.float32)
        write_image(root / "clean" / f"scene{i:02d}.png", clean)
        write_image(root / "noisy" / f"scene{i:02d}.png", noisy)
    return root


TINY_DATA = {"paired": 4, "validation_fraction": 0.2}  # 4 pairs, 2 validation pairs, 3 source, 3 target


def tiny_config(spec: Path, *overrides: str) -> TrainConfig:
    """The tiny preset on ``spec`` (a :func:`write_pairs` folder), split by :data:`TINY_DATA`."""
    return resolve_config("tiny", overrides=list(overrides), settings={"data": {"spec": str(spec), **TINY_DATA}})


def tiny_batch(seed: int = 0, domains: tuple[int, ...] = (0, 1, 2, 0)) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    clean = torch.rand(len(domains), 3, 16, 16, generator=g)
    noisy = (clean + 0.05 * torch.randn(clean.shape, generator=g)).clamp(0, 1)
    return {"clean": clean, "noisy": noisy, "domain": torch.tensor(domains)}
