"""Second-order structure of the noise n = noisy - clean: how it is correlated in space and across channels.

Real sRGB camera noise is correlated between neighbouring pixels and between colour channels
(demosaicing, in-camera denoising, JPEG); white Gaussian noise is not, and histogram KL and AKLD
hardly see the difference. docs/metrics.md defines each statistic exactly:

* spatial autocorrelation per channel at lags 0..``max_lag``, horizontal and vertical, and the
  summaries ``lag1`` / ``lag2`` (mean over both axes and the three channels);
* cross-channel correlation of R-G, R-B, G-B, and their mean ``channels``;
* the radially averaged noise power spectrum in ``rings`` rings, normalised to unit sum, and
  :func:`spectrum_distance` between two of them;
* the grid measures: the share of the noise energy on the FFT rows and columns of the 2- and
  4-pixel periods, and the power at the checkerboard frequency over the mean power.

Every statistic is pooled over all images of the set (sums over all pixels of all images before
the ratio is taken), so large images weigh more than small ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from senmvae.metrics.images import ImageSet, MetricInputError, iter_image_groups

__all__ = [
    "CHANNEL_PAIRS",
    "NoiseStructure",
    "compare_structure",
    "noise_structure",
    "spectrum_distance",
    "structure_metrics",
]

CHANNEL_PAIRS = ((0, 1), (0, 2), (1, 2))  # RG, RB, GB
SIDE_MULTIPLE = 4  # the 4-pixel period must fall on an FFT bin
MIN_SIDE = 8


@dataclass(frozen=True)
class NoiseStructure:
    """Second-order statistics of a set of noise images (docs/metrics.md, "Noise structure").

    ``horizontal`` / ``vertical`` (3, max_lag + 1): autocorrelation per channel at lags
    0..max_lag along x / y (lag 0 is 1). ``channel_correlation`` (3,): correlation of the noise of
    R-G, R-B and G-B. ``spectrum`` (rings,): mean noise power per ring of radial frequency,
    normalised to sum to 1 (NaN for a ring no frequency of the images falls in); ``frequency``
    (rings,): the ring centres in cycles/pixel. ``grid_share``: share of the noise energy on the
    FFT rows and columns at 1/4 and 1/2 cycles/pixel. ``checkerboard_ratio``: power at
    (1/2, 1/2) cycles/pixel over the mean power of all frequencies (white noise: about 1).
    """

    horizontal: np.ndarray
    vertical: np.ndarray
    channel_correlation: np.ndarray
    spectrum: np.ndarray
    frequency: np.ndarray
    grid_share: float
    checkerboard_ratio: float

    def lag(self, lag: int) -> float:
        """Mean of the horizontal and vertical autocorrelation at ``lag`` over the three channels."""
        return float((self.horizontal[:, lag].mean() + self.vertical[:, lag].mean()) / 2)

    @property
    def lag1(self) -> float:
        return self.lag(1)

    @property
    def lag2(self) -> float:
        return self.lag(2)

    @property
    def channels(self) -> float:
        """Mean of the three cross-channel correlations."""
        return float(self.channel_correlation.mean())

    def summary(self) -> dict[str, float]:
        """The scalar statistics, keyed as in benchmark tables."""
        return {
            "lag1": self.lag1,
            "lag2": self.lag2,
            "channels": self.channels,
            "grid_share": self.grid_share,
            "checkerboard_ratio": self.checkerboard_ratio,
        }


def _lag_sums(noise: torch.Tensor, lag: int, dim: int) -> torch.Tensor:
    """Per channel: sum of n(p) n(p + lag), of n(p)^2 and of n(p + lag)^2 over positions with both inside."""
    length = noise.shape[dim]
    first = noise.narrow(dim, 0, length - lag)
    second = noise.narrow(dim, lag, length - lag)
    return torch.stack([(first * second).sum((1, 2)), (first * first).sum((1, 2)), (second * second).sum((1, 2))])


def _grid_mask(height: int, width: int) -> torch.Tensor:
    """The FFT bins whose vertical or horizontal frequency is +-1/4 or 1/2 cycles/pixel (sides multiples of 4)."""
    rows = torch.zeros(height, dtype=torch.bool)
    cols = torch.zeros(width, dtype=torch.bool)
    rows[[height // 4, height // 2, 3 * height // 4]] = True
    cols[[width // 4, width // 2, 3 * width // 4]] = True
    return rows[:, None] | cols[None, :]


def noise_structure(noisy: ImageSet, clean: ImageSet, max_lag: int = 4, rings: int = 16) -> NoiseStructure:
    """The :class:`NoiseStructure` of the noise ``noisy - clean`` over a set of pairs.

    Each image is cut to its top-left part whose sides are multiples of 4 (at least 8 pixels
    each) and its noise has its mean removed per channel before anything is measured. A
    statistic that divides by the energy of a channel without noise is NaN.
    """
    if max_lag < 2:
        raise MetricInputError(f"max_lag must be at least 2 (lag2 is reported), got {max_lag}")
    if rings < 1:
        raise MetricInputError(f"rings must be at least 1, got {rings}")
    lag_sums = torch.zeros(2, max_lag + 1, 3, 3, dtype=torch.float64)  # axis, lag, (product, first^2, second^2), c
    channel_products = torch.zeros(3, 3, dtype=torch.float64)
    ring_power = torch.zeros(rings, dtype=torch.float64)
    ring_count = torch.zeros(rings, dtype=torch.float64)
    grid_energy = total_energy = checkerboard_power = mean_power = 0.0
    images = 0
    for index, (noisy_image, clean_image) in enumerate(iter_image_groups(noisy, clean, names=("noisy", "clean"))):
        height, width = noisy_image.shape[-2:]
        height, width = height - height % SIDE_MULTIPLE, width - width % SIDE_MULTIPLE
        if min(height, width) < MIN_SIDE:
            raise MetricInputError(
                f"noise structure: image {index} is {tuple(noisy_image.shape[-2:])}; it needs sides of at least "
                f"{MIN_SIDE} pixels"
            )
        noise = (noisy_image[0].cpu().double() - clean_image[0].cpu().double())[:, :height, :width]
        noise = noise - noise.mean(dim=(1, 2), keepdim=True)
        for lag in range(max_lag + 1):
            lag_sums[0, lag] += _lag_sums(noise, lag, dim=2)
            lag_sums[1, lag] += _lag_sums(noise, lag, dim=1)
        flat = noise.flatten(1)
        channel_products += flat @ flat.T

        power = torch.fft.fft2(noise).abs().pow(2) / (height * width)  # (3, H, W); mean over bins = variance
        radius = torch.sqrt(
            torch.fft.fftfreq(height, dtype=torch.float64)[:, None] ** 2
            + torch.fft.fftfreq(width, dtype=torch.float64)[None, :] ** 2
        )
        inside = (radius > 0) & (radius <= 0.5)
        ring = (radius[inside] * 2 * rings).long().clamp_max(rings - 1)
        ring_power += torch.bincount(ring, weights=power.sum(0)[inside], minlength=rings)
        ring_count += 3 * torch.bincount(ring, minlength=rings)
        grid_energy += float(power[:, _grid_mask(height, width)].sum())
        total_energy += float(power.sum())
        checkerboard_power += float(power[:, height // 2, width // 2].sum())
        mean_power += float(power.mean(dim=(1, 2)).sum())
        images += 1
    if images == 0:
        raise MetricInputError("noise structure: no image pairs to analyse")

    product, first, second = lag_sums.unbind(dim=2)
    autocorrelation = (product / (first * second).sqrt()).permute(0, 2, 1).numpy()  # (axis, channel, lag)
    diagonal = channel_products.diagonal()
    correlation = channel_products / (diagonal[:, None] * diagonal[None, :]).sqrt()
    mean_ring = torch.where(
        ring_count > 0, ring_power / ring_count.clamp_min(1), torch.tensor(float("nan"), dtype=torch.float64)
    )
    spectrum = (mean_ring / mean_ring.nansum()).numpy()
    edges = np.linspace(0.0, 0.5, rings + 1)
    return NoiseStructure(
        horizontal=autocorrelation[0],
        vertical=autocorrelation[1],
        channel_correlation=np.array([float(correlation[i, j]) for i, j in CHANNEL_PAIRS]),
        spectrum=spectrum,
        frequency=(edges[:-1] + edges[1:]) / 2,
        grid_share=grid_energy / total_energy if total_energy > 0 else math.nan,
        checkerboard_ratio=checkerboard_power / mean_power if mean_power > 0 else math.nan,
    )


def spectrum_distance(a: NoiseStructure | np.ndarray, b: NoiseStructure | np.ndarray) -> float:
    """Mean over rings of |log(a_ring / b_ring)| between two normalised ring spectra (0: same shape).

    Rings that are NaN or zero in either spectrum are left out; the two need the same number of rings.
    """
    a_rings = np.asarray(a.spectrum if isinstance(a, NoiseStructure) else a, dtype=np.float64)
    b_rings = np.asarray(b.spectrum if isinstance(b, NoiseStructure) else b, dtype=np.float64)
    if a_rings.shape != b_rings.shape:
        raise MetricInputError(f"spectra to compare need the same rings, got {a_rings.shape} and {b_rings.shape}")
    usable = np.isfinite(a_rings) & np.isfinite(b_rings) & (a_rings > 0) & (b_rings > 0)
    if not usable.any():
        return math.nan
    return float(np.mean(np.abs(np.log(a_rings[usable] / b_rings[usable]))))


def compare_structure(synthetic: NoiseStructure, real: NoiseStructure, include_real: bool = True) -> dict[str, float]:
    """A flat row for a benchmark table: the synthetic noise's scalar statistics, the real ones as
    ``<name>_real`` (unless ``include_real`` is False, for tables that have a row of the real
    noise), and the spectrum distance between the two."""
    row = synthetic.summary()
    if include_real:
        row |= {f"{key}_real": value for key, value in real.summary().items()}
    return row | {"spectrum_distance": spectrum_distance(synthetic, real)}


def structure_metrics(synthetic: ImageSet, real: ImageSet, clean: ImageSet) -> dict[str, float]:
    """:func:`compare_structure` of the noise of ``synthetic`` and of ``real``, both against ``clean``."""
    return compare_structure(noise_structure(synthetic, clean), noise_structure(real, clean))
