"""Scoring an SR network on (LR, HR) pairs: PSNR and SSIM on Y and on RGB, feature distances.

Conventions (those of the real-world SR challenges' and BasicSR's scoring): the SR output is
clipped and rounded to 8 bits as if saved; ``border`` pixels (default: the scale) are cut
from every side of both images; Y is the luma of ITU-R BT.601 in studio range, as MATLAB's
``rgb2ycbcr`` (Y = 16 + 65.481 R + 128.553 G + 24.966 B on [0, 255]), computed without
rounding. PSNR (peak 1) and SSIM are :func:`senmvae.metrics.psnr` and :func:`~senmvae.metrics.ssim`;
Y is passed to them as a three-channel image whose channels are all Y, which gives exactly
the single-channel values.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from senmvae.data.refs import resize
from senmvae.downstream.sr.rrdb import RRDBNet
from senmvae.metrics import psnr, ssim
from senmvae.metrics.images import quantize_8bit

Y_WEIGHTS = (65.481, 128.553, 24.966)


@torch.no_grad()
def super_resolve(model: RRDBNet, low: np.ndarray) -> np.ndarray:
    """The SR output of one (h, w, 3) LR image: (scale h, scale w, 3), clipped to [0, 1]."""
    model.eval()
    batch = torch.from_numpy(np.ascontiguousarray(low, dtype=np.float32)).permute(2, 0, 1)[None]
    return model(batch)[0].clamp(0.0, 1.0).permute(1, 2, 0).numpy()


def luma(images: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) RGB in [0, 1] -> BT.601 studio-range Y in [16/255, 235/255], repeated over 3 channels."""
    weights = torch.tensor(Y_WEIGHTS, dtype=images.dtype, device=images.device).view(1, 3, 1, 1) / 255.0
    y = (images * weights).sum(1, keepdim=True) + 16.0 / 255.0
    return y.expand(-1, 3, -1, -1)


def _chw(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image, dtype=np.float64)).permute(2, 0, 1)[None]


def fidelity_scores(output: np.ndarray, reference: np.ndarray, border: int) -> dict[str, float]:
    """PSNR and SSIM on Y and RGB of one SR output against its HR image (same size), 8-bit output, border cut."""
    sr, hr = quantize_8bit(_chw(output)), _chw(reference)
    if border:
        sr, hr = sr[..., border:-border, border:-border], hr[..., border:-border, border:-border]
    return {
        "psnr_y": float(psnr(luma(sr), luma(hr))),
        "ssim_y": float(ssim(luma(sr), luma(hr))),
        "psnr_rgb": float(psnr(sr, hr)),
        "ssim_rgb": float(ssim(sr, hr)),
    }


def evaluate_sr(
    model: RRDBNet | None,
    pairs: Sequence[tuple[np.ndarray, np.ndarray]],
    border: int,
    distances: dict[str, nn.Module] | None = None,
) -> tuple[dict[str, float], list[np.ndarray]]:
    """Mean scores over (LR, HR) ``pairs`` and the SR outputs.

    ``model`` None scores bicubic interpolation of the LR image (the reference row).
    ``distances``: full-reference perceptual distances by name (e.g. ``lpips_alex``), each a
    module mapping two (B, 3, H, W) batches to (B,) distances; lower is better.
    """
    scores: dict[str, list[float]] = {}
    outputs = []
    for low, high in pairs:
        output = super_resolve(model, low) if model is not None else bicubic_upsample(low, high.shape[:2])
        if output.shape != high.shape:
            raise ValueError(f"an SR output of {output.shape} does not match its HR image of {high.shape}")
        outputs.append(output)
        values = fidelity_scores(output, high, border)
        for name, distance in (distances or {}).items():
            with torch.no_grad():
                values[name] = float(distance(_chw(output).float(), _chw(high).float()).mean())
        for name, value in values.items():
            scores.setdefault(name, []).append(value)
    return {name: float(np.mean(values)) for name, values in scores.items()}, outputs


def bicubic_upsample(low: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bicubic interpolation of an LR image to ``size`` = (height, width)."""
    return resize(low, (size[1], size[0]))
