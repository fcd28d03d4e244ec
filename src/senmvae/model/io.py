"""The project's own weight files: safetensors, with the model config as JSON in its metadata.

A file written by :func:`save_model` rebuilds its model alone. :func:`load_model` also
accepts an official checkpoint (``.pth``/``.pt``), which it converts on the fly. Weights that
are not finite (a diverged training) are refused both ways.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file

from senmvae.atomic import atomic_file
from senmvae.errors import UserError
from senmvae.model.config import ModelConfig
from senmvae.model.network import SeNMVAE
from senmvae.pretrained import PRETRAINED, pretrained_path

MODEL_FILE = "model.safetensors"  # the weights of a training run folder
TRAINING_CHECKPOINT = re.compile(r"step_\d+\.pt|best\.pt")  # RUN/checkpoints/*, as senmvae.train.checkpoint names them
FORMAT = "senmvae-model"
FORMAT_VERSION = "1"
NOT_OURS = "this file was not written by senmvae for this model config"
DIVERGED = (
    "it was trained with a diverging setting (e.g. too high a learning rate); "
    "retrain from an earlier checkpoint, with a lower learning rate"
)


def save_model(
    model: SeNMVAE,
    path: str | Path,
    extra_metadata: dict[str, str] | None = None,
    dtype: torch.dtype = torch.float32,
) -> Path:
    """Write ``model`` to ``path`` (a ``.safetensors`` file) atomically; ``dtype`` of the stored
    weights (``torch.float16`` halves the file; loading always gives float32 weights)."""
    path = Path(path)
    tensors = {k: v.detach().to("cpu", dtype).contiguous() for k, v in model.state_dict().items()}
    refuse_not_finite(tensors, f"not writing {path}")
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model_config": json.dumps(model.config.to_dict()),
        **(extra_metadata or {}),
    }
    with atomic_file(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
    return path


def refuse_not_finite(tensors: dict[str, torch.Tensor], where: str) -> None:
    """A :class:`UserError` starting with ``where`` when a tensor holds NaN or inf."""
    bad = [name for name, t in tensors.items() if t.is_floating_point() and not torch.isfinite(t).all()]
    if bad:
        raise UserError(
            f"{where}: the model's weights are not finite (NaN or inf in {len(bad)} of {len(tensors)} tensors, "
            f"e.g. {', '.join(bad[:3])}); {DIVERGED}"
        )


def resolve_model_path(path: str | Path) -> Path:
    """The weight file of a shipped model name (``base``, ``polyu``), of a training run folder
    (``RUN/model.safetensors``), or ``path`` itself."""
    if not str(path).strip():
        raise UserError(
            "the model is an empty name; pass a training run folder, a model file (.safetensors or official .pth), "
            f"or a shipped model ({', '.join(PRETRAINED)})"
        )
    if str(path) in PRETRAINED and not Path(path).exists():
        return pretrained_path(str(path))
    path = Path(path)
    if path.is_dir():
        file = path / MODEL_FILE
        if not file.is_file():
            raise UserError(
                f"{path} is a folder without {MODEL_FILE}; pass a finished training run folder "
                f"(training writes RUN/{MODEL_FILE} at its end) or a model file (.safetensors or official .pth)"
            )
        return file
    if not path.exists():
        raise UserError(
            f"model {path} does not exist; pass a training run folder, a model file, or a shipped model "
            f"({', '.join(PRETRAINED)})"
        )
    return path


def read_metadata(path: str | Path) -> dict[str, str]:
    try:
        with safe_open(str(path), framework="pt") as fh:
            return dict(fh.metadata() or {})
    except (SafetensorError, OSError) as err:
        raise UserError(f"{path} is not a readable safetensors file ({err})") from None


def trained_level(path: str | Path) -> str:
    """The noise level the model in ``path`` was conditioned on in training: ``"image"`` (each
    crop given its whole image's noise std, ``data.level=image``) or ``"crop"`` (the crop's own
    std: the authors' way, official checkpoints and files written before this was recorded)."""
    path = Path(path)
    if path.suffix != ".safetensors":
        return "crop"
    return read_metadata(path).get("level", "crop")


def load_model(path: str | Path, device: str | torch.device = "cpu") -> SeNMVAE:
    """Load a model saved by :func:`save_model`, or convert an official checkpoint, for
    inference: in eval mode with its weights frozen (``requires_grad_(True)`` and ``train()``
    to train it directly; fine-tuning copies its weights into a new model instead)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"model file {path} does not exist")
    if path.parent.name == "checkpoints" and TRAINING_CHECKPOINT.fullmatch(path.name):
        run = path.parent.parent
        raise UserError(
            f"{path} is a checkpoint of the training run {run} (its weights with the optimiser state, to resume "
            f"from), not a model file; pass the run folder {run} instead (it uses {run / MODEL_FILE}, the weights "
            f"of its newest checkpoint), or continue training it with: senmvae train --resume {run}"
        )
    if path.suffix in (".pth", ".pt"):
        from senmvae.model.official import load_official

        model = load_official(path)
        refuse_not_finite(model.state_dict(), str(path))
        return model.to(device)
    metadata = read_metadata(path)
    if metadata.get("format") != FORMAT or "model_config" not in metadata:
        raise UserError(f"{path} is a safetensors file but not a senmvae model (no model_config in its metadata)")
    model = SeNMVAE(_model_config(path, metadata["model_config"]))
    state = _read_tensors(path)
    if mismatch := _mismatch(model.state_dict(), state):
        raise UserError(f"{path} does not hold the weights its model_config describes ({mismatch}); {NOT_OURS}")
    refuse_not_finite(state, str(path))
    model.load_state_dict(state)
    return model.to(device).eval().requires_grad_(False)


def _model_config(path: Path, text: str) -> ModelConfig:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise UserError(f"{path}: the model_config in its metadata is not valid JSON ({err}); {NOT_OURS}") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: the model_config in its metadata is not a JSON object; {NOT_OURS}")
    try:
        return ModelConfig.from_dict(data)
    except (UserError, TypeError, ValueError) as err:
        raise UserError(f"{path}: the model_config in its metadata cannot be used ({err}); {NOT_OURS}") from None


def _read_tensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path))
    except (SafetensorError, OSError) as err:
        raise UserError(f"{path}: the weights cannot be read ({err}); the file is damaged, copy it again") from None


def _mismatch(expected: dict[str, torch.Tensor], found: dict[str, torch.Tensor]) -> str:
    """The differences between two sets of named tensors, in a few words ("" when none)."""
    missing = sorted(expected.keys() - found.keys())
    unexpected = sorted(found.keys() - expected.keys())
    reshaped = sorted(k for k in expected.keys() & found.keys() if expected[k].shape != found[k].shape)
    kinds = {"missing keys": missing, "unexpected keys": unexpected, "tensors of other shapes": reshaped}
    return "; ".join(f"{len(names)} {kind} (e.g. {', '.join(names[:3])})" for kind, names in kinds.items() if names)
