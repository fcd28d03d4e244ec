"""Loading weight files for the feature networks, with errors that name the file and the fix."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from senmvae.errors import UserError, torch_load_problem


class WeightFileError(UserError):
    """A weight file that is missing, unreadable, or made for another network."""


def read_state_dict(path: str | Path, what: str) -> dict[str, torch.Tensor]:
    """The tensors stored in ``path`` (a ``torch.save`` file), read without running any code."""
    path = Path(path)
    if not path.is_file():
        raise WeightFileError(f"{path}: {what} weight file not found; check the path")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for foreign or corrupt files
        raise WeightFileError(
            f"{path}: cannot read it as a PyTorch weight file for {what}: {torch_load_problem(err)}"
        ) from None
    if isinstance(data, dict) and "state_dict" in data and isinstance(data["state_dict"], dict):
        data = data["state_dict"]
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise WeightFileError(f"{path}: holds no state_dict of tensors; pass the {what} weight file itself")
    return data


def load_matching(module: nn.Module, state: dict[str, torch.Tensor], path: str | Path, what: str) -> None:
    """Load ``state`` into ``module``, requiring every parameter and buffer with its exact shape.

    Keys of ``state`` the module does not use are ignored (e.g. a classifier head), and so are
    missing ``num_batches_tracked`` counters, which do not affect evaluation.
    """
    own = module.state_dict()
    missing = [k for k in own if k not in state and not k.endswith("num_batches_tracked")]
    wrong = [
        f"{k} {tuple(state[k].shape)} (expected {tuple(v.shape)})"
        for k, v in own.items()
        if k in state and state[k].shape != v.shape
    ]
    if missing or wrong:
        detail = []
        if missing:
            detail.append(f"missing {len(missing)} tensors, e.g. {', '.join(missing[:3])}")
        if wrong:
            detail.append(f"wrong shapes: {', '.join(wrong[:3])}")
        raise WeightFileError(f"{path}: not {what} weights ({'; '.join(detail)})")
    module.load_state_dict({k: state[k] for k in own if k in state}, strict=False)
