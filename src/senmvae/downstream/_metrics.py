"""PSNR and SSIM for the denoiser's scores (float (H, W, 3) images, peak 1)."""

from __future__ import annotations

import numpy as np
from skimage.metrics import structural_similarity


def psnr(image: np.ndarray, reference: np.ndarray) -> float:
    mse = float(np.mean(np.square(image.astype(np.float64) - reference.astype(np.float64))))
    return float("inf") if mse == 0 else 10.0 * np.log10(1.0 / mse)


def ssim(image: np.ndarray, reference: np.ndarray) -> float:
    """Wang et al. (2004): 11x11 Gaussian window of sigma 1.5, averaged over the colour channels."""
    return float(
        structural_similarity(
            image.astype(np.float64),
            reference.astype(np.float64),
            data_range=1.0,
            channel_axis=-1,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
        )
    )
