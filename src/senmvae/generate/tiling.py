"""Overlapping tiles and their blending weights.

Along each axis, tiles of ``tile`` pixels start every ``tile - overlap`` pixels, the last one
flush with the end. Between two neighbouring tiles the weight passes from one to the other
along a raised-cosine ramp ``overlap / 2`` pixels wide, centred in their common band, so
that each tile contributes nothing within ``overlap / 4`` pixels of its own inner edges
(where its convolutions saw zero padding instead of the neighbouring image), and the weights
of all tiles sum to exactly 1 at every pixel.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from senmvae.errors import UserError


def pad_to_multiple(image: torch.Tensor, multiple: int) -> torch.Tensor:
    """Pad (B, C, H, W) at the bottom and right to multiples of ``multiple`` (reflect, else replicate)."""
    h, w = image.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if not (ph or pw):
        return image
    mode = "reflect" if ph < h and pw < w else "replicate"
    return F.pad(image, (0, pw, 0, ph), mode=mode)


def check_tiling(tile: int, overlap: int, multiple: int) -> None:
    if tile < multiple or tile % multiple:
        raise UserError(f"tile size {tile} must be a positive multiple of {multiple} (this model's size multiple)")
    if overlap < 0 or overlap % multiple:
        raise UserError(f"tile overlap {overlap} must be a multiple of {multiple} (this model's size multiple), >= 0")
    if 2 * overlap > tile:
        raise UserError(f"tile overlap {overlap} must be at most half the tile size {tile}")


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start of every tile along an axis of ``length`` pixels (one tile when it fits)."""
    if length <= tile:
        return [0]
    return list(range(0, length - tile, tile - overlap)) + [length - tile]


def _ramp(positions: torch.Tensor, centre: float, width: float) -> torch.Tensor:
    """0 before ``centre - width / 2``, 1 after ``centre + width / 2``, raised cosine between."""
    if width <= 0:
        return (positions >= centre).double()
    t = ((positions - (centre - width / 2)) / width).clamp(0.0, 1.0)
    return 0.5 - 0.5 * torch.cos(math.pi * t)


def tile_weights(length: int, tile: int, overlap: int) -> list[tuple[int, torch.Tensor]]:
    """(start, weights) of every tile along an axis; the weights sum to 1 at every pixel."""
    starts = tile_starts(length, tile, overlap)
    size = min(tile, length)
    tiles = []
    for i, start in enumerate(starts):
        centres = torch.arange(start, start + size, dtype=torch.float64) + 0.5
        weight = torch.ones(size, dtype=torch.float64)
        if i > 0:
            weight = weight * _ramp(centres, (start + starts[i - 1] + size) / 2, overlap / 2)
        if i < len(starts) - 1:
            weight = weight * (1 - _ramp(centres, (starts[i + 1] + start + size) / 2, overlap / 2))
        tiles.append((start, weight.float()))
    return tiles
