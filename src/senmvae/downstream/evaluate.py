"""Scoring a denoiser on full real pairs."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.nn import functional as F

from senmvae.baselines.pairs import PairLike, load_pair
from senmvae.downstream.dncnn import DnCNN
from senmvae.metrics import psnr, ssim

# A comparison of noise models by their downstream denoisers means something only when the
# denoiser trained on the real pairs beats the noisy input on held-out images by this much.
MIN_REAL_GAIN_DB = 1.0


@torch.no_grad()
def denoise_image(model: DnCNN, noisy: np.ndarray) -> np.ndarray:
    """Denoise one (H, W, 3) image of any size (reflect-padded to the network's multiple), clipped to [0, 1]."""
    model.eval()
    batch = torch.from_numpy(np.ascontiguousarray(noisy, dtype=np.float32)).permute(2, 0, 1)[None]
    height, width = batch.shape[-2:]
    multiple = model.size_multiple
    pad_h, pad_w = -height % multiple, -width % multiple
    if pad_h or pad_w:
        batch = F.pad(batch, (0, pad_w, 0, pad_h), mode="reflect")
    out = model(batch)[..., :height, :width].clamp(0.0, 1.0)
    return out[0].permute(1, 2, 0).numpy()


def evaluate_denoiser(model: DnCNN, pairs: Sequence[PairLike]) -> dict[str, float]:
    """Mean PSNR and SSIM (:mod:`senmvae.metrics`, peak 1) of the denoised noisy images against the clean ones.

    ``input_psnr`` and ``input_ssim`` score the noisy images themselves, so ``psnr -
    input_psnr`` is the denoiser's gain.
    """
    scores: dict[str, list[float]] = {"psnr": [], "ssim": [], "input_psnr": [], "input_ssim": []}
    for pair in pairs:
        clean, noisy = load_pair(pair)
        denoised = denoise_image(model, noisy)
        scores["psnr"].append(float(psnr(denoised, clean)))
        scores["ssim"].append(float(ssim(denoised, clean)))
        scores["input_psnr"].append(float(psnr(noisy, clean)))
        scores["input_ssim"].append(float(ssim(noisy, clean)))
    return {name: float(np.mean(values)) for name, values in scores.items()}


def seed_spread(values: Sequence[float]) -> dict[str, float]:
    """Mean, sample standard deviation (ddof 1; only with two values or more), min and max of one
    score over the seeds of a denoiser."""
    values = np.asarray(values, dtype=np.float64)
    spread = {"mean": float(values.mean()), "min": float(values.min()), "max": float(values.max())}
    if len(values) > 1:
        spread["std"] = float(values.std(ddof=1))
    return spread
