"""Paired (clean, noisy) images in the forms the baselines and the downstream denoiser accept.

A pair is either a ``(clean, noisy)`` tuple of float (H, W, 3) arrays in [0, 1], or an
object with ``.clean.load()`` and ``.noisy.load()`` returning such arrays (the dataset
records of :mod:`senmvae.data`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from senmvae.errors import UserError

PairLike = Any


def load_pair(pair: PairLike) -> tuple[np.ndarray, np.ndarray]:
    """``(clean, noisy)`` as float32 (H, W, 3) arrays of equal shape."""
    if hasattr(pair, "clean") and hasattr(pair, "noisy"):
        clean, noisy = pair.clean.load(), pair.noisy.load()
        name = f"pair {getattr(pair, 'name', '')}".strip()
    else:
        try:
            clean, noisy = pair
        except (TypeError, ValueError):
            raise UserError(
                f"expected a (clean, noisy) pair of arrays or a record with .clean/.noisy, got {type(pair).__name__}"
            ) from None
        name = "pair"
    clean = np.asarray(clean, dtype=np.float32)
    noisy = np.asarray(noisy, dtype=np.float32)
    if clean.ndim != 3 or clean.shape[-1] != 3 or clean.shape != noisy.shape:
        raise UserError(
            f"{name}: clean {clean.shape} and noisy {noisy.shape} must both be (H, W, 3) of the same size; "
            "crop or resize the images so they align"
        )
    return clean, noisy


def load_pairs(pairs: Iterable[PairLike]) -> list[tuple[np.ndarray, np.ndarray]]:
    loaded = [load_pair(p) for p in pairs]
    if not loaded:
        raise UserError("no paired (clean, noisy) images were given; at least one pair is needed to fit")
    return loaded
