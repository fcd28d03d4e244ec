"""Full-reference fidelity of a restored image: PSNR and SSIM (higher is better for both)."""

from __future__ import annotations

import torch

from senmvae.metrics.filtering import separable_filter_valid
from senmvae.metrics.images import ImageLike, MetricInputError, as_batches, quantize_8bit

SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03


def psnr(restored: ImageLike, reference: ImageLike, data_range: float = 1.0, quantize: bool = False) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB, one value per image: 10 log10(data_range^2 / MSE).

    The MSE runs over all pixels and the three channels of each image. ``quantize`` first
    clips both images to [0, 1] and rounds them to 8-bit levels (as when the images are
    saved as 8-bit files, which is how denoising benchmarks usually score). Identical images
    give ``inf``.
    """
    restored, reference = as_batches(restored, reference, names=("restored", "reference"), dtype=torch.float64)
    if quantize:
        restored, reference = quantize_8bit(restored), quantize_8bit(reference)
    mse = (restored - reference).pow(2).mean(dim=(1, 2, 3))
    return 10.0 * torch.log10(data_range**2 / mse)


def gaussian_kernel_1d(size: int, sigma: float, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    x = torch.arange(size, dtype=dtype) - (size - 1) / 2
    kernel = torch.exp(-(x**2) / (2 * sigma**2))
    return kernel / kernel.sum()


def ssim(restored: ImageLike, reference: ImageLike, data_range: float = 1.0, quantize: bool = False) -> torch.Tensor:
    """Structural similarity (Wang et al. 2004), one value per image.

    11x11 Gaussian window with sigma 1.5, K1 = 0.01, K2 = 0.03, population (not sample)
    statistics, computed on each channel and averaged over the positions where the window
    fits entirely inside the image and over the channels. This equals
    ``skimage.metrics.structural_similarity(..., gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, data_range=1, channel_axis=-1)`` and MATLAB's ``ssim`` with a
    Gaussian window, per channel.
    """
    restored, reference = as_batches(restored, reference, names=("restored", "reference"), dtype=torch.float64)
    if min(restored.shape[-2:]) < SSIM_WINDOW:
        raise MetricInputError(
            f"SSIM needs images of at least {SSIM_WINDOW}x{SSIM_WINDOW} pixels, got {tuple(restored.shape[-2:])}"
        )
    if quantize:
        restored, reference = quantize_8bit(restored), quantize_8bit(reference)
    g = gaussian_kernel_1d(SSIM_WINDOW, SSIM_SIGMA).to(restored.device)

    def blur(x: torch.Tensor) -> torch.Tensor:
        return separable_filter_valid(x, g)

    mu_x, mu_y = blur(restored), blur(reference)
    var_x = blur(restored * restored) - mu_x**2
    var_y = blur(reference * reference) - mu_y**2
    cov = blur(restored * reference) - mu_x * mu_y
    c1 = (SSIM_K1 * data_range) ** 2
    c2 = (SSIM_K2 * data_range) ** 2
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return ssim_map.mean(dim=(1, 2, 3))
