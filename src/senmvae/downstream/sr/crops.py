"""Training batches of (LR, HR) crops for the SR network.

A crop source is a callable ``(batch_size, lr_crop, generator) -> (lr, hr)`` with LR crops
(B, 3, c, c) and their HR crops (B, 3, scale c, scale c). :class:`SynthesizedSRCrops` cuts HR
crops from clean HR images, on the LR grid so that the crop of B(HR) matches, and makes the
LR partner with a :class:`~senmvae.downstream.sr.degradations.Degradation` on the fly;
:class:`RealSRCrops` cuts aligned crops of real (LR, HR) pairs. Both apply one of the 8
flips/rotations per crop, the same to LR and HR.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from senmvae.data.refs import bicubic_downsample
from senmvae.downstream.sr.degradations import Degradation
from senmvae.errors import UserError

SRCropSource = Callable[[int, int, torch.Generator], tuple[torch.Tensor, torch.Tensor]]


def _chw(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).permute(2, 0, 1)


def crop_to_scale(hr: np.ndarray, scale: int) -> np.ndarray:
    """``hr`` cut to sides that are multiples of ``scale`` (as :func:`bicubic_downsample` does)."""
    return hr[: hr.shape[0] // scale * scale, : hr.shape[1] // scale * scale]


def _aligned_crops(
    pairs: Sequence[tuple[torch.Tensor, torch.Tensor]], count: int, crop: int, scale: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    lows, highs = [], []
    for _ in range(count):
        low, high = pairs[int(torch.randint(len(pairs), (1,), generator=generator))]
        height, width = low.shape[-2:]
        if height < crop or width < crop:
            raise UserError(
                f"a {height}x{width} low-resolution image is smaller than the {crop}x{crop} training crop; "
                "lower sr.lr_crop or remove the image"
            )
        top = int(torch.randint(height - crop + 1, (1,), generator=generator))
        left = int(torch.randint(width - crop + 1, (1,), generator=generator))
        turns, flip = (int(v) for v in torch.randint(4, (2,), generator=generator))
        patches = [
            low[:, top : top + crop, left : left + crop],
            high[:, scale * top : scale * (top + crop), scale * left : scale * (left + crop)],
        ]
        if flip % 2:
            patches = [p.flip(-1) for p in patches]
        low_patch, high_patch = (torch.rot90(p, turns, dims=(-2, -1)) for p in patches)
        lows.append(low_patch)
        highs.append(high_patch)
    return torch.stack(lows), torch.stack(highs)


class SynthesizedSRCrops:
    """HR crops of clean images with the LR partner a degradation model makes of each."""

    def __init__(self, degradation: Degradation, hr_images: Sequence[np.ndarray], scale: int):
        if not hr_images:
            raise UserError("no clean high-resolution images were given to synthesize SR training pairs from")
        self.degradation = degradation
        self.scale = int(scale)
        self.images = []
        for hr in hr_images:
            hr = crop_to_scale(hr, self.scale)
            self.images.append((_chw(bicubic_downsample(hr, self.scale)), _chw(hr)))

    @torch.no_grad()
    def __call__(self, batch_size: int, lr_crop: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        bicubic, hr = _aligned_crops(self.images, batch_size, lr_crop, self.scale, generator)
        return self.degradation(hr, bicubic, generator).float(), hr


class RealSRCrops:
    """Aligned crops of real (LR, HR) pairs; the HR image is cut to ``scale`` times the LR size."""

    def __init__(self, pairs: Sequence[tuple[np.ndarray, np.ndarray]], scale: int):
        if not pairs:
            raise UserError("no real (LR, HR) pairs were given to train on")
        self.scale = int(scale)
        self.pairs = []
        for low, high in pairs:
            h, w = low.shape[:2]
            if high.shape[0] < scale * h or high.shape[1] < scale * w:
                raise UserError(
                    f"an HR image of {high.shape[1]}x{high.shape[0]} is smaller than {scale} x its LR partner "
                    f"({w}x{h}); check the pairing and the scale"
                )
            self.pairs.append((_chw(low), _chw(high[: scale * h, : scale * w])))

    def __call__(self, batch_size: int, lr_crop: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        return _aligned_crops(self.pairs, batch_size, lr_crop, self.scale, generator)
