"""Overlapping tiles and their blending weights.

Along each axis, an image longer than ``tile`` is covered by the fewest tiles that overlap
by at least ``overlap``, all of one size (at most ``tile``, as small as that allows) and
spread evenly, with starts on multiples of the model's size multiple. Between two
neighbouring tiles the weight passes from one to the other along a raised-cosine ramp
``overlap / 2`` pixels wide, centred in their common band, so that a tile contributes
nothing within ``overlap / 4`` pixels of its own inner edges (where its convolutions saw
zero padding instead of the neighbouring image); the weights sum to 1 at every pixel.
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


def tile_layout(length: int, tile: int, overlap: int, multiple: int = 1) -> tuple[int, list[int]]:
    """(tile size, starts) along an axis of ``length`` pixels, a multiple of ``multiple``
    (as are ``tile`` and ``overlap``); one tile of the whole length when it fits."""
    if length <= tile:
        return length, [0]
    units, size_max, lap = length // multiple, tile // multiple, overlap // multiple
    count = math.ceil((units - lap) / (size_max - lap))
    size = math.ceil((units + (count - 1) * lap) / count)
    # floor of evenly spaced starts: every gap is at most ceil((units - size) / (count - 1)),
    # which is at most size - lap, so neighbours overlap by at least ``overlap``
    starts = [i * (units - size) // (count - 1) for i in range(count)]
    return size * multiple, [start * multiple for start in starts]


def _ramp(positions: torch.Tensor, centre: float, width: float) -> torch.Tensor:
    """0 before ``centre - width / 2``, 1 after ``centre + width / 2``, raised cosine between."""
    if width <= 0:
        return (positions >= centre).double()
    t = ((positions - (centre - width / 2)) / width).clamp(0.0, 1.0)
    return 0.5 - 0.5 * torch.cos(math.pi * t)


def tile_weights(length: int, tile: int, overlap: int, multiple: int = 1) -> list[tuple[int, torch.Tensor]]:
    """(start, weights) of every tile along an axis; the weights sum to 1 at every pixel."""
    size, starts = tile_layout(length, tile, overlap, multiple)
    tiles = []
    total = torch.zeros(length, dtype=torch.float64)
    for i, start in enumerate(starts):
        centres = torch.arange(start, start + size, dtype=torch.float64) + 0.5
        weight = torch.ones(size, dtype=torch.float64)
        if i > 0:
            weight = weight * _ramp(centres, (start + starts[i - 1] + size) / 2, overlap / 2)
        if i < len(starts) - 1:
            weight = weight * (1 - _ramp(centres, (starts[i + 1] + start + size) / 2, overlap / 2))
        tiles.append((start, weight))
        total[start : start + size] += weight
    # the ramps already sum to 1; dividing makes it exact in floating point
    return [(start, (weight / total[start : start + size]).float()) for start, weight in tiles]
