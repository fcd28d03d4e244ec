"""The real noise itself, as a noise model: the upper bound every synthetic model is judged by.

Real noise cannot be invented for an arbitrary clean image, so the oracle is honest about
what it is: a lookup table of real pairs. ``sample`` returns the real noisy partner of each
clean image it was built from (matched by content, exactly as stored) and refuses any other
image. In the downstream comparison "oracle" therefore means training the denoiser on the
real pairs themselves (see :func:`senmvae.downstream.training_crops`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from senmvae.baselines.base import BaselineNoiseModel, check_batch
from senmvae.baselines.pairs import PairLike, load_pairs
from senmvae.data.io import read_image
from senmvae.errors import UserError
from senmvae.model.distributions import Generator


def content_key(image: np.ndarray) -> str:
    """A digest of an (H, W, 3) image quantised to 16 bits, so float round trips still match."""
    quantised = np.round(np.clip(image, 0.0, 1.0) * 65535.0).astype("<u2")
    return hashlib.sha1(quantised.tobytes() + repr(quantised.shape).encode()).hexdigest()


class RealNoiseOracle(BaselineNoiseModel):
    """Returns the real noisy partner of each clean image it knows; ``level``,
    ``temperature`` and ``generator`` have no effect (the real noise is what it is).

    Its JSON lists the image files of the pairs, so only an oracle built by
    :meth:`from_files` can be saved.
    """

    kind = "oracle"
    name = "oracle"

    def __init__(self, pairs: Sequence[tuple[np.ndarray, np.ndarray]], files: Sequence[tuple[str, str]] | None = None):
        self.pairs = list(pairs)
        self.files = [(str(c), str(n)) for c, n in files] if files is not None else None
        self._noisy_by_clean = {content_key(clean): noisy for clean, noisy in self.pairs}

    @classmethod
    def fit(cls, pairs: Sequence[PairLike]) -> RealNoiseOracle:
        return cls(load_pairs(pairs))

    @classmethod
    def from_files(cls, files: Sequence[tuple[str | Path, str | Path]]) -> RealNoiseOracle:
        """Build from ``(clean_path, noisy_path)`` pairs; such an oracle can be saved as JSON."""
        pairs = load_pairs((read_image(clean), read_image(noisy)) for clean, noisy in files)
        return cls(pairs, files=[(str(c), str(n)) for c, n in files])

    def parameters(self) -> dict[str, Any]:
        if self.files is None:
            raise UserError(
                "this real-noise oracle was built from arrays and holds images, not files; "
                "build it with RealNoiseOracle.from_files to save it"
            )
        return {"files": [list(pair) for pair in self.files]}

    @classmethod
    def from_parameters(cls, files: Sequence[Sequence[str]]) -> RealNoiseOracle:
        return cls.from_files([(clean, noisy) for clean, noisy in files])

    def __repr__(self) -> str:
        return f"RealNoiseOracle({len(self.pairs)} pairs)"

    def sample(
        self,
        clean: torch.Tensor,
        level: torch.Tensor | float | None = None,
        temperature: float = 1.0,
        generator: Generator = None,
    ) -> torch.Tensor:
        check_batch(clean)
        out = []
        for i, image in enumerate(clean):
            noisy = self._noisy_by_clean.get(content_key(image.permute(1, 2, 0).detach().cpu().numpy()))
            if noisy is None:
                raise UserError(
                    f"the real-noise oracle has no real noisy partner for image {i} of the batch: it only "
                    f"reproduces the {len(self.pairs)} real pairs it was built from, whole and unaltered"
                )
            out.append(torch.from_numpy(noisy).permute(2, 0, 1))
        return torch.stack(out).to(dtype=clean.dtype, device=clean.device)
