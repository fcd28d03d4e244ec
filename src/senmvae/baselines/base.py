"""What every baseline noise model shares: fitting from pairs and a small JSON file."""

from __future__ import annotations

import json
from abc import abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import torch

from senmvae.errors import UserError
from senmvae.generate.base import NoiseSource


class BaselineNoiseModel(NoiseSource):
    """A :class:`NoiseSource` with a closed-form fit and a JSON form ``{"kind": ..., ...}``."""

    kind: ClassVar[str]

    @classmethod
    @abstractmethod
    def fit(cls, pairs: Any) -> BaselineNoiseModel:
        """Fit to a sequence of (clean, noisy) pairs (see :mod:`senmvae.baselines.pairs`)."""

    @abstractmethod
    def parameters(self) -> dict[str, Any]:
        """The JSON-serialisable parameters that ``cls(**parameters)`` rebuilds the model from."""

    @classmethod
    def from_parameters(cls, **parameters: Any) -> BaselineNoiseModel:
        return cls(**parameters)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **self.parameters()}

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return path

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.parameters().items())})"


def per_image(value: torch.Tensor | float, batch: int, like: torch.Tensor) -> torch.Tensor:
    """A float or one value per image as a (B, 1, 1, 1) tensor that broadcasts over a batch."""
    value = torch.as_tensor(value, dtype=like.dtype, device=like.device).flatten()
    if value.numel() not in (1, batch):
        raise UserError(f"got {value.numel()} noise levels for a batch of {batch} images; give one or one per image")
    return value.expand(batch).reshape(batch, 1, 1, 1)


def check_batch(clean: torch.Tensor) -> None:
    if clean.ndim != 4 or clean.shape[1] != 3:
        raise UserError(f"noise models take clean batches of shape (B, 3, H, W), got {tuple(clean.shape)}")
