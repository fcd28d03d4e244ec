"""Latent noise fixed to positions on the image, for generation in tiles.

:meth:`SeNMVAE.sample` takes its standard normal draws from a :data:`NoiseSupply`;
:class:`LatentField` is the noise those draws come from when an image is processed in
tiles: every latent of every level is a field on the image plane, cut into fixed blocks that
are each drawn from their own seed. Two overlapping tiles therefore see the very same noise
where they overlap, their outputs there agree up to the effect of the tile edges, and
blending them with weights that sum to 1 keeps the full noise variance with no seam (two
independent noise fields averaged in an overlap would lose up to half of it).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from senmvae.generate.seeding import stable_seed
from senmvae.model.network import NoiseSupply


class LatentField:
    """Standard normal latent noise of one image, as a function of position.

    The noise of latent ``name`` at level ``index`` is cut into ``BLOCK`` x ``BLOCK`` blocks of
    latent pixels (all channels); block (row, col) is drawn from a generator seeded by a hash
    of (key, index, name, row, col).
    """

    BLOCK = 64

    def __init__(self, key: int):
        self.key = int(key)

    def region(
        self, index: int, name: str, channels: int, top: int, left: int, height: int, width: int
    ) -> torch.Tensor:
        """The (channels, height, width) noise whose top-left latent pixel is (top, left)."""
        b = self.BLOCK
        rows = range(top // b, (top + height - 1) // b + 1)
        cols = range(left // b, (left + width - 1) // b + 1)
        canvas = torch.empty(channels, len(rows) * b, len(cols) * b)
        for i, row in enumerate(rows):
            for j, col in enumerate(cols):
                gen = torch.Generator().manual_seed(stable_seed("latent", self.key, index, name, row, col))
                canvas[:, i * b : (i + 1) * b, j * b : (j + 1) * b] = torch.randn(channels, b, b, generator=gen)
        y, x = top - rows[0] * b, left - cols[0] * b
        return canvas[:, y : y + height, x : x + width]


def field_supply(fields: Sequence[LatentField], top: int, left: int, input_height: int) -> NoiseSupply:
    """Noise for a batch whose row ``i`` is the tile of image ``fields[i]`` at pixel (top, left).

    ``top`` and ``left`` must be multiples of the model's size multiple, so that they fall on
    whole latent pixels at every level; ``input_height`` is the tile's height, from which each
    level's scale is read. ``halo`` widens the region by that many pixels on every side.
    """

    def supply(index: int, name: str, like: torch.Tensor, halo: int = 0) -> torch.Tensor:
        _, channels, height, width = like.shape
        scale = input_height // height
        top_left = (top // scale - halo, left // scale - halo)
        size = (height + 2 * halo, width + 2 * halo)
        rows = [f.region(index, name, channels, *top_left, *size) for f in fields]
        return torch.stack(rows).to(device=like.device, dtype=like.dtype)

    return supply
