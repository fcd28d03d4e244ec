"""Descriptive statistics of the noise y - x from (noisy, clean) pairs.

* :func:`noise_level` -- the noise level of a pair: the std of noisy - clean over every pixel
  and channel (sample std, ddof 1), the number models are conditioned on.
* :func:`noise_level_function` -- noise standard deviation against clean intensity, per channel.
* :func:`noise_power_spectrum` -- radially averaged 2-D power spectrum of the noise, normalised
  so that white noise of variance v is flat at v.
* :func:`noise_placement` -- the noise std in each fifth of every image's pixels, ranked by the
  clean image's local contrast (flat to edges) and by its brightness (dark to bright).

Both accept sets of pairs of any sizes and accumulate over all of them; comparing the curves of
synthetic and real noise shows where a model gets the level or the spatial correlation wrong.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from senmvae.metrics.images import ImageSet, MetricInputError, iter_image_groups
from senmvae.noise_level import noise_level

__all__ = [
    "noise_level",
    "noise_level_function",
    "noise_placement",
    "noise_power_spectrum",
    "NoiseLevelFunction",
    "NoisePlacement",
    "NoisePowerSpectrum",
]

LUMA_WEIGHTS = (0.299, 0.587, 0.114)  # ITU-R BT.601


@dataclass(frozen=True)
class NoiseLevelFunction:
    """Noise statistics per clean-intensity bin, per channel (rows R, G, B).

    ``bin_edges`` (n + 1,) on the clean intensity scale [0, 1]; ``intensity`` (3, n) mean clean
    intensity of the pixels in each bin; ``std`` (3, n) standard deviation of the noise in each
    bin (population, about the bin's own mean); ``mean`` (3, n) mean noise (bias) per bin;
    ``counts`` (3, n) pixels per bin. Bins with fewer than ``min_count`` pixels hold NaN.
    """

    bin_edges: np.ndarray
    intensity: np.ndarray
    std: np.ndarray
    mean: np.ndarray
    counts: np.ndarray


def noise_level_function(noisy: ImageSet, clean: ImageSet, bins: int = 32, min_count: int = 2) -> NoiseLevelFunction:
    """Bin every pixel by its clean intensity (per channel) and measure the noise in each bin."""
    if bins < 1:
        raise MetricInputError(f"bins must be at least 1, got {bins}")
    edges = np.linspace(0.0, 1.0, bins + 1)
    count = torch.zeros(3, bins, dtype=torch.float64)
    sum_x = torch.zeros_like(count)
    sum_n = torch.zeros_like(count)
    sum_n2 = torch.zeros_like(count)
    for noisy_image, clean_image in iter_image_groups(noisy, clean, names=("noisy", "clean")):
        x = clean_image[0].cpu().double().flatten(1)
        n = (noisy_image[0].cpu().double() - x.view_as(clean_image[0])).flatten(1)
        index = (x.clamp(0.0, 1.0) * bins).long().clamp_max(bins - 1)
        for c in range(3):
            count[c] += torch.bincount(index[c], minlength=bins)
            sum_x[c] += torch.bincount(index[c], weights=x[c], minlength=bins)
            sum_n[c] += torch.bincount(index[c], weights=n[c], minlength=bins)
            sum_n2[c] += torch.bincount(index[c], weights=n[c] ** 2, minlength=bins)
    enough = count >= max(min_count, 1)
    safe = count.clamp_min(1)
    mean = sum_n / safe
    variance = (sum_n2 / safe - mean**2).clamp_min(0.0)
    nan = torch.tensor(float("nan"), dtype=torch.float64)
    return NoiseLevelFunction(
        bin_edges=edges,
        intensity=torch.where(enough, sum_x / safe, nan).numpy(),
        std=torch.where(enough, variance.sqrt(), nan).numpy(),
        mean=torch.where(enough, mean, nan).numpy(),
        counts=count.numpy().astype(np.int64),
    )


def _luma(image: torch.Tensor) -> torch.Tensor:
    return (image * torch.tensor(LUMA_WEIGHTS, dtype=image.dtype).view(1, 3, 1, 1)).sum(1, keepdim=True)


@dataclass(frozen=True)
class NoisePowerSpectrum:
    """Radially averaged noise power spectrum.

    ``frequency`` (n,) bin centres in cycles per pixel (0 to 0.5); ``power`` (C, n) mean of
    |FFT(noise)|^2 / (H W) over the frequencies in each bin (C = 3 for RGB, 1 for luminance),
    so white noise of variance v gives v in every bin; ``counts`` (n,) frequency samples per bin.
    The bin at zero frequency includes the DC term, i.e. the noise mean.
    """

    frequency: np.ndarray
    power: np.ndarray
    counts: np.ndarray


def noise_power_spectrum(
    noisy: ImageSet, clean: ImageSet, bins: int = 32, luminance: bool = False
) -> NoisePowerSpectrum:
    """Periodogram of the noise of each pair, averaged over rings of equal radial frequency and over pairs.

    Frequencies beyond 0.5 cycles/pixel (the corners of the 2-D spectrum) are left out so
    that every ring is complete. ``luminance`` analyses the BT.601 luma of the noise instead
    of each RGB channel.
    """
    if bins < 1:
        raise MetricInputError(f"bins must be at least 1, got {bins}")
    edges = np.linspace(0.0, 0.5, bins + 1)
    channels = 1 if luminance else 3
    power_sum = torch.zeros(channels, bins, dtype=torch.float64)
    count = torch.zeros(bins, dtype=torch.float64)
    for noisy_image, clean_image in iter_image_groups(noisy, clean, names=("noisy", "clean")):
        noise = noisy_image.cpu().double() - clean_image.cpu().double()
        if luminance:
            noise = _luma(noise)
        h, w = noise.shape[-2:]
        power = torch.fft.fft2(noise[0]).abs().pow(2) / (h * w)
        radius = torch.sqrt(
            torch.fft.fftfreq(h, dtype=torch.float64)[:, None] ** 2
            + torch.fft.fftfreq(w, dtype=torch.float64)[None, :] ** 2
        )
        inside = radius <= 0.5
        index = (radius[inside] / 0.5 * bins).long().clamp_max(bins - 1)
        count += torch.bincount(index, minlength=bins)
        for c in range(channels):
            power_sum[c] += torch.bincount(index, weights=power[c][inside], minlength=bins)
    if count.sum() == 0:
        raise MetricInputError("no image pairs to analyse")
    power_mean = torch.where(count > 0, power_sum / count.clamp_min(1), torch.tensor(float("nan"), dtype=torch.float64))
    return NoisePowerSpectrum(
        frequency=(edges[:-1] + edges[1:]) / 2, power=power_mean.numpy(), counts=count.numpy().astype(np.int64)
    )


CONTRAST_WINDOW = 7  # pixels: the local mean of the gradient magnitude that ranks a pixel's contrast


@dataclass(frozen=True)
class NoisePlacement:
    """Where in the images the noise is: its std (on the [0, 1] scale, all channels) in each of
    ``groups`` equal shares of every image's pixels, ranked by the clean image's local contrast
    (``by_contrast``, flattest first) and by its brightness (``by_brightness``, darkest first)."""

    by_contrast: np.ndarray
    by_brightness: np.ndarray


def _ranked_groups(values: torch.Tensor, groups: int) -> torch.Tensor:
    """The share (0..groups-1) of each of ``values``' pixels by rank within its image."""
    order = values.flatten().argsort(stable=True)
    group = torch.empty_like(order)
    group[order] = torch.arange(order.numel()) * groups // order.numel()
    return group


def noise_placement(noisy: ImageSet, clean: ImageSet, groups: int = 5) -> NoisePlacement:
    """The noise std by share of pixels ranked within each image: by the clean luma's local
    contrast (the gradient magnitude of forward differences, averaged over a 7x7 window) and by
    the clean luma. The noise is taken about each image's per-channel mean; the shares depend on
    the clean image alone, so real and synthetic noise of the same clean images are compared on
    the same pixels."""
    if groups < 1:
        raise MetricInputError(f"groups must be at least 1, got {groups}")
    sums = {key: torch.zeros(groups, dtype=torch.float64) for key in ("contrast", "brightness")}
    counts = {key: torch.zeros(groups, dtype=torch.float64) for key in sums}
    for noisy_image, clean_image in iter_image_groups(noisy, clean, names=("noisy", "clean")):
        x = clean_image.cpu().double()
        noise = noisy_image.cpu().double() - x
        energy = (noise - noise.mean((2, 3), keepdim=True)).pow(2).sum(1)[0]  # (H, W), summed over channels
        luma = _luma(x)
        dy = F.pad(luma[..., 1:, :] - luma[..., :-1, :], (0, 0, 0, 1))
        dx = F.pad(luma[..., :, 1:] - luma[..., :, :-1], (0, 1))
        pad = CONTRAST_WINDOW // 2
        contrast = F.avg_pool2d(
            (dx.pow(2) + dy.pow(2)).sqrt(), CONTRAST_WINDOW, stride=1, padding=pad, count_include_pad=False
        )
        for key, ranking in (("contrast", contrast), ("brightness", luma)):
            group = _ranked_groups(ranking[0, 0], groups)
            sums[key] += torch.bincount(group, weights=energy.flatten(), minlength=groups)
            counts[key] += 3 * torch.bincount(group, minlength=groups)
    if counts["contrast"].sum() == 0:
        raise MetricInputError("no image pairs to analyse")
    std = {key: (sums[key] / counts[key].clamp_min(1)).sqrt().numpy() for key in sums}
    return NoisePlacement(by_contrast=std["contrast"], by_brightness=std["brightness"])
