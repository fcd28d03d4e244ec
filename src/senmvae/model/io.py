"""The project's own weight files: safetensors, with the model config as JSON in its metadata.

A file written by :func:`save_model` rebuilds its model alone. :func:`load_model` also
accepts an official checkpoint (``.pth``/``.pt``), which it converts on the fly.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file

from senmvae.errors import UserError
from senmvae.model.config import ModelConfig
from senmvae.model.network import SeNMVAE

FORMAT = "senmvae-model"
FORMAT_VERSION = "1"


def save_model(model: SeNMVAE, path: str | Path, extra_metadata: dict[str, str] | None = None) -> Path:
    """Write ``model`` to ``path`` (a ``.safetensors`` file) atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model_config": json.dumps(model.config.to_dict()),
        **(extra_metadata or {}),
    }
    tensors = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in model.state_dict().items()}
    tmp = path.with_name(f".{path.name}.tmp")
    save_file(tensors, str(tmp), metadata=metadata)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path


def read_metadata(path: str | Path) -> dict[str, str]:
    try:
        with safe_open(str(path), framework="pt") as fh:
            return dict(fh.metadata() or {})
    except (SafetensorError, OSError) as err:
        raise UserError(f"{path} is not a readable safetensors file ({err})") from None


def load_model(path: str | Path, device: str | torch.device = "cpu") -> SeNMVAE:
    """Load a model saved by :func:`save_model`, or convert an official checkpoint."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"model file {path} does not exist")
    if path.suffix in (".pth", ".pt"):
        from senmvae.model.official import load_official

        return load_official(path).to(device)
    metadata = read_metadata(path)
    if metadata.get("format") != FORMAT or "model_config" not in metadata:
        raise UserError(f"{path} is a safetensors file but not a senmvae model (no model_config in its metadata)")
    cfg = ModelConfig.from_dict(json.loads(metadata["model_config"]))
    model = SeNMVAE(cfg)
    model.load_state_dict(load_file(str(path)))
    return model.to(device).eval()
