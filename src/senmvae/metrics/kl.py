"""The three KL divergences that noise-modelling papers report, under names that say which.

They are not comparable with each other; each is comparable only to numbers computed the same way.

* :func:`kl_intensity_histogram_senmvae` -- the official SeNM-VAE script (``SIDD/compute_kl.py``):
  KL(synthetic || real) between 256-bin histograms of the 8-bit grey levels of each synthetic
  noisy image and its real counterpart, averaged over image pairs (SeNM-VAE Table 1 "KLD").
* :func:`kl_noise_histogram` -- histograms of the noise y - x of each image pair, KL(real ||
  synthetic), in the binning of NeCA (Fu et al. CVPR 2023, official code) or of the sRGB Noise
  Flow (Kousha et al. CVPR 2022, Noise2NoiseFlow code).
* :func:`akld_danet` -- DANet's AKLD (Yue et al. ECCV 2020): local noise variances from a 7x7
  window (OpenCV's 7-tap Gaussian table), KL(synthetic || real) between zero-mean Gaussians per
  pixel, averaged over pixels; and :func:`akld_reverse`, KL(real || synthetic) of the same
  quantities.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from senmvae.metrics.filtering import separable_filter_valid
from senmvae.metrics.images import ImageLike, ImageSet, MetricInputError, as_batches, iter_image_groups, quantize_8bit


def _reduce(values: list[float], reduction: str) -> float | np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    if reduction == "mean":
        if values.size == 0:
            raise MetricInputError("no images to compare")
        return float(values.mean())
    if reduction == "none":
        return values
    raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")


# ---------------------------------------------------------------- (a) official SeNM-VAE


def opencv_gray_levels(images: torch.Tensor) -> torch.Tensor:
    """8-bit grey levels of (B, 3, H, W) RGB images in [0, 1], as OpenCV's BT.601 RGB->GRAY.

    The images are first rounded to 8 bits, as when saved; the conversion uses OpenCV's
    fixed-point weights (4899 R + 9617 G + 1868 B + 8192) >> 14.
    """
    levels = torch.round(images.clamp(0.0, 1.0) * 255.0).to(torch.int64)
    r, g, b = levels[:, 0], levels[:, 1], levels[:, 2]
    return (4899 * r + 9617 * g + 1868 * b + 8192) >> 14


def kl_intensity_histogram_senmvae(
    synthetic_noisy: ImageSet, real_noisy: ImageSet, reduction: str = "mean"
) -> float | np.ndarray:
    """KL(synthetic || real) of 256-bin grey-level histograms, per image pair (official SeNM-VAE).

    For each pair, p is the normalised histogram of the synthetic image's 8-bit grey levels and
    q that of the real image, with 1e-8 added to q (then renormalised) so that empty bins do
    not give infinity; KL = sum p log(p / q). The official script reads both images from 8-bit
    files in grey (``cv2.imread(path, 0)``); here they are rounded to 8 bits and converted with
    OpenCV's BT.601 weights (libpng's own conversion, used when OpenCV decodes a PNG straight
    to grey, can differ by one level on rare pixels). Lower is better; 0 for equal histograms.
    """
    values = []
    for synthetic, real in iter_image_groups(synthetic_noisy, real_noisy, names=("synthetic_noisy", "real_noisy")):
        p = torch.bincount(opencv_gray_levels(synthetic).flatten(), minlength=256).double()
        q = torch.bincount(opencv_gray_levels(real).flatten(), minlength=256).double()
        p, q = p / p.sum(), q / q.sum()
        q = (q + 1e-8) / (q + 1e-8).sum()
        keep = p > 0
        values.append(float((p[keep] * torch.log(p[keep] / q[keep])).sum()))
    return _reduce(values, reduction)


# ---------------------------------------------------------------- (b) noise histograms


@dataclass(frozen=True)
class NoiseHistogramConvention:
    """How a paper bins the noise y - x and treats empty bins.

    ``edges`` are on the scale of ``scale`` (1 for noise in [0, 1] units, 255 for 8-bit units).
    ``empty_bins``: "drop" removes bins empty in either histogram before the sum (NeCA);
    "add_one" adds one count to every bin of both histograms (Noise Flow).
    """

    name: str
    edges: np.ndarray
    scale: float
    empty_bins: str
    source: str


NOISE_HISTOGRAM_CONVENTIONS = {
    "neca": NoiseHistogramConvention(
        name="neca",
        edges=np.concatenate(([-1000.0], np.arange(-0.1, 0.1 + 1e-9, 0.2 / 64), [1000.0])),
        scale=1.0,
        empty_bins="drop",
        source="NeCA official code (zfu006/sRGB-Real-Noise-Synthesis, utils_image.cal_kld): noise in [0, 1] "
        "units, bins of width 0.2/64 over [-0.1, 0.1] plus two overflow bins, empty bins dropped",
    ),
    "noise_flow_srgb": NoiseHistogramConvention(
        name="noise_flow_srgb",
        edges=np.arange(-260.0, 261.0, 4.0),
        scale=255.0,
        empty_bins="add_one",
        source="sRGB Noise Flow (SamsungLabs/Noise2NoiseFlow, sidd_utils.kldiv_patch_set_v2): noise in 8-bit "
        "units, bins of width 4 over [-260, 260], one count added to every bin",
    ),
}


def _noise_histogram(noise: torch.Tensor, convention: NoiseHistogramConvention) -> np.ndarray:
    levels = noise.detach().cpu().double().numpy().ravel() * 255.0
    # Noise between 8-bit images lies on whole levels, and whole levels can sit exactly on bin
    # edges (0 for NeCA, multiples of 4 for Noise Flow): snap off float error so they fall on
    # the side np.histogram gives exact values, whatever the dtype the images came in.
    nearest = np.round(levels)
    levels = np.where(np.abs(levels - nearest) < 1e-3, nearest, levels)
    counts, _ = np.histogram(levels * (convention.scale / 255.0), bins=convention.edges)
    counts = counts.astype(np.float64)
    if convention.empty_bins == "add_one":
        counts += 1.0
    return counts / counts.sum()


def kl_noise_histogram(
    synthetic_noisy: ImageSet,
    real_noisy: ImageSet,
    clean: ImageSet,
    convention: str = "neca",
    quantize_synthetic: bool = True,
    reduction: str = "mean",
) -> float | np.ndarray:
    """KL(real || synthetic) between histograms of the noise (noisy - clean), per image pair.

    ``convention`` picks the binning (see :data:`NOISE_HISTOGRAM_CONVENTIONS`). With
    ``quantize_synthetic`` (NeCA's protocol) the synthetic noisy image is clipped to [0, 1]
    and rounded to 8 bits before the clean image is subtracted, like the real noisy image
    that came from an 8-bit file. Lower is better.
    """
    if convention not in NOISE_HISTOGRAM_CONVENTIONS:
        raise MetricInputError(
            f"unknown noise-histogram convention {convention!r}; choose from {sorted(NOISE_HISTOGRAM_CONVENTIONS)}"
        )
    conv = NOISE_HISTOGRAM_CONVENTIONS[convention]
    values = []
    groups = iter_image_groups(synthetic_noisy, real_noisy, clean, names=("synthetic_noisy", "real_noisy", "clean"))
    for synthetic, real, clean_image in groups:
        if quantize_synthetic:
            synthetic = quantize_8bit(synthetic)
        p = _noise_histogram(real - clean_image, conv)
        q = _noise_histogram(synthetic - clean_image, conv)
        keep = (p > 0) & (q > 0)
        values.append(float(np.sum(p[keep] * np.log(p[keep] / q[keep]))))
    return _reduce(values, reduction)


# ---------------------------------------------------------------- (c) AKLD

# DANet calls cv2.getGaussianKernel(7, sigma=-1); for sizes up to 7 with sigma <= 0 OpenCV
# returns this fixed binomial-like table rather than a sampled Gaussian.
DANET_WINDOW_1D = (0.03125, 0.109375, 0.21875, 0.28125, 0.21875, 0.109375, 0.03125)
DANET_VARIANCE_FLOOR = 1e-10
DANET_RATIO_CLAMP = (0.1, 10.0)


def local_noise_variance(noisy: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
    """DANet's local noise variance: (noisy - clean)^2 smoothed by the 7x7 window, per channel.

    Borders are reflected (without repeating the edge pixel) and the result is floored at 1e-10.
    """
    window = torch.tensor(DANET_WINDOW_1D, dtype=noisy.dtype, device=noisy.device)
    pad = len(DANET_WINDOW_1D) // 2
    squared = F.pad((noisy - clean) ** 2, (pad, pad, pad, pad), mode="reflect")
    variance = separable_filter_valid(squared, window)
    return variance.clamp_min(DANET_VARIANCE_FLOOR)


def _akld(
    synthetic_noisy: ImageLike,
    real_noisy: ImageLike,
    clean: ImageLike,
    reverse: bool,
    clip_synthetic: bool,
    ratio_clamp: tuple[float, float] | None,
) -> torch.Tensor:
    synthetic, real, clean_batch = as_batches(
        synthetic_noisy, real_noisy, clean, names=("synthetic_noisy", "real_noisy", "clean"), dtype=torch.float64
    )
    if min(real.shape[-2:]) <= len(DANET_WINDOW_1D) // 2:
        raise MetricInputError(f"AKLD needs images larger than 3x3 pixels, got {tuple(real.shape[-2:])}")
    if clip_synthetic:
        synthetic = synthetic.clamp(0.0, 1.0)
    var_synthetic = local_noise_variance(synthetic, clean_batch)
    var_real = local_noise_variance(real, clean_batch)
    ratio = var_real / var_synthetic if reverse else var_synthetic / var_real
    if ratio_clamp is not None:
        ratio = ratio.clamp(*ratio_clamp)
    return 0.5 * (ratio - 1.0 - torch.log(ratio)).mean(dim=(1, 2, 3))


def akld_danet(
    synthetic_noisy: ImageLike,
    real_noisy: ImageLike,
    clean: ImageLike,
    clip_synthetic: bool = True,
    ratio_clamp: tuple[float, float] | None = DANET_RATIO_CLAMP,
) -> torch.Tensor:
    """DANet's AKLD, one value per image: mean over pixels and channels of KL(synthetic || real).

    With local variances s (synthetic) and r (real) from :func:`local_noise_variance`,
    KL(N(0, s) || N(0, r)) = (s/r - 1 - log(s/r)) / 2, where DANet clamps s/r to [0.1, 10]
    (``ratio_clamp``; None for the unclamped value). The synthetic image is clipped to [0, 1]
    first (``clip_synthetic``). DANet reports the mean over images, each averaged over several
    samples. Lower is better.

    Caution: this direction caps the penalty for too little noise. Adding no noise at all
    gives s = 1e-10, the ratio clamps at 0.1, and every pixel costs (0.1 - 1 + log 10) / 2 =
    0.701, while too much noise can cost up to (10 - 1 - log 10) / 2 = 3.349. Report
    :func:`akld_reverse` beside it.
    """
    return _akld(
        synthetic_noisy, real_noisy, clean, reverse=False, clip_synthetic=clip_synthetic, ratio_clamp=ratio_clamp
    )


def akld_reverse(
    synthetic_noisy: ImageLike,
    real_noisy: ImageLike,
    clean: ImageLike,
    clip_synthetic: bool = True,
    ratio_clamp: tuple[float, float] | None = DANET_RATIO_CLAMP,
) -> torch.Tensor:
    """AKLD in the other direction, KL(real || synthetic), one value per image.

    Same local variances, clamp and clipping as :func:`akld_danet` with the ratio inverted, so
    missing noise costs up to 3.349 per pixel and excess noise at most 0.701. Lower is better.
    """
    return _akld(
        synthetic_noisy, real_noisy, clean, reverse=True, clip_synthetic=clip_synthetic, ratio_clamp=ratio_clamp
    )
