"""The noise level of a (noisy, clean) pair: the one definition the whole project uses.

The level is the standard deviation of ``noisy - clean`` over every pixel and channel
(sample std, ddof 1) on the [0, 1] intensity scale: what the zn heads are conditioned on,
what the level predictor learns, and what reports print (times 255 for 8-bit units).
"""

from __future__ import annotations

import numpy as np
import torch


def noise_level(noisy: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
    """Per image: (B, C, H, W) -> (B,); one image (C, H, W) -> a 0-d tensor."""
    diff = noisy - clean
    return diff.flatten(1).std(dim=1) if diff.dim() == 4 else diff.flatten().std()


def noise_level_of_arrays(noisy: np.ndarray, clean: np.ndarray) -> float:
    """The level of one pair of arrays of any layout, computed in float64."""
    return float(np.std(np.asarray(noisy, dtype=np.float64) - clean, ddof=1))
