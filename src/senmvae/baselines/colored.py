"""The colored heteroscedastic Gaussian: a per-channel variance line and the real noise's second-order structure.

Real sRGB noise is correlated between neighbouring pixels and between colour channels; the white
Gaussians are not. This baseline keeps the heteroscedastic Gaussian's variance line and adds
the mean cross-power spectrum of the paired data's noise, as a small spatial colouring filter,
so that a learned noise model has to beat a Gaussian that has the real structure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from senmvae.baselines.base import BaselineNoiseModel, check_batch
from senmvae.baselines.gaussian import HeteroscedasticGaussian
from senmvae.baselines.pairs import PairLike, load_pairs
from senmvae.errors import UserError
from senmvae.model.distributions import Generator, standard_normal

DEFAULT_KERNEL_SIZE = 15
DEFAULT_CROP = 64


class ColoredHeteroscedasticGaussian(BaselineNoiseModel):
    """Gaussian noise with a per-channel variance line and a fitted 3-channel colouring filter.

    ``sample`` draws white N(0, 1) noise with a halo of ``(k - 1) / 2`` pixels on every side,
    convolves it with ``kernel`` (3 x 3 x k x k: output channel, input channel, taps; "valid",
    so the result has the image's size at any size), which makes each channel unit-variance
    noise with the fitted spatial and cross-channel correlation, and multiplies it by the
    heteroscedastic std ``sqrt(a[c] * clean + b[c])``. ``level`` rescales each image's std as
    :class:`HeteroscedasticGaussian` does; ``temperature`` multiplies it; ``clip`` clips to [0, 1].

    ``fit`` (docs/downstream.md): ``a, b`` by :meth:`HeteroscedasticGaussian.fit`; the noise
    divided by that std, minus its mean per image and channel, cut into ``crop`` x ``crop``
    tiles (smaller where a pair is: the tile side is at most every pair's shorter side); the
    mean 3 x 3 cross-power spectrum of the tiles; per frequency its positive semi-definite
    square root; the inverse FFT of that, the central k x k taps (k = ``kernel_size``, or the
    largest odd size within a smaller tile), each output channel scaled to unit variance.
    """

    kind = "colored_heteroscedastic"
    name = "colored_heteroscedastic"

    def __init__(self, a: Sequence[float], b: Sequence[float], kernel: Any, clip: bool = True):
        self.line = HeteroscedasticGaussian(a, b, clip=False)
        kernel = np.asarray(kernel, dtype=np.float64)
        square = kernel.ndim == 4 and kernel.shape[:2] == (3, 3) and kernel.shape[2] == kernel.shape[3]
        if not square or kernel.shape[2] % 2 == 0:
            raise UserError(
                f"the colored noise kernel must have shape (3, 3, k, k) with k odd, got {kernel.shape}; refit the model"
            )
        if not np.isfinite(kernel).all():
            raise UserError("the colored noise kernel holds values that are not finite; refit the model")
        self.kernel = kernel
        self.clip = bool(clip)

    @classmethod
    def fit(
        cls,
        pairs: Sequence[PairLike],
        clip: bool = True,
        kernel_size: int = DEFAULT_KERNEL_SIZE,
        crop: int = DEFAULT_CROP,
    ) -> ColoredHeteroscedasticGaussian:
        if kernel_size < 1 or kernel_size % 2 == 0 or crop < 1:
            raise UserError(f"kernel_size must be odd and crop positive, got kernel_size={kernel_size}, crop={crop}")
        loaded = load_pairs(pairs)
        line = HeteroscedasticGaussian.fit(loaded)
        tile = min(crop, *(min(clean.shape[:2]) for clean, _ in loaded))
        size = min(kernel_size, tile - 1 + tile % 2)  # the largest odd size that fits a tile
        kernel = colouring_kernel(mean_cross_power(loaded, line, tile), size)
        return cls(a=line.a, b=line.b, kernel=kernel, clip=clip)

    def parameters(self) -> dict[str, Any]:
        return {"a": self.line.a, "b": self.line.b, "kernel": self.kernel.tolist(), "clip": self.clip}

    def __repr__(self) -> str:
        k = self.kernel.shape[-1]
        return f"ColoredHeteroscedasticGaussian(a={self.line.a}, b={self.line.b}, kernel {k}x{k}, clip={self.clip})"

    def coloured_noise(self, shape: tuple[int, ...], like: torch.Tensor, generator: Generator) -> torch.Tensor:
        """Unit-variance noise of ``shape`` (B, 3, H, W) with the fitted correlation."""
        halo = self.kernel.shape[-1] - 1
        batch, _, height, width = shape
        white = standard_normal((batch, 3, height + halo, width + halo), like, generator)
        # conv2d correlates; the flipped kernel makes it the convolution the filter was built for
        weight = torch.as_tensor(self.kernel, dtype=like.dtype, device=like.device).flip((-2, -1))
        return F.conv2d(white, weight)

    def sample(
        self,
        clean: torch.Tensor,
        level: torch.Tensor | float | None = None,
        temperature: float = 1.0,
        generator: Generator = None,
    ) -> torch.Tensor:
        check_batch(clean)
        noise = self.coloured_noise(clean.shape, clean, generator)
        noisy = clean + temperature * self.line.noise_std(clean, level) * noise
        return noisy.clamp(0.0, 1.0) if self.clip else noisy


def mean_cross_power(
    pairs: Sequence[tuple[np.ndarray, np.ndarray]], line: HeteroscedasticGaussian, crop: int
) -> torch.Tensor:
    """Mean cross-power spectrum (3, 3, crop, crop), complex, of the std-normalised noise over all tiles.

    Entry (i, j, f) is the mean over tiles of Z_i(f) conj(Z_j(f)) / crop^2, Z the FFT of a tile;
    the std is floored at a tenth of the image's mean std so that pixels the line gives almost
    no variance do not dominate.
    """
    total = torch.zeros(3, 3, crop, crop, dtype=torch.complex128)
    tiles = 0
    for clean, noisy in pairs:  # every pair is at least crop x crop: each gives a tile or more
        x = torch.from_numpy(clean).double().permute(2, 0, 1)[None]
        noise = torch.from_numpy(noisy).double().permute(2, 0, 1)[None] - x
        std = line.noise_std(x)
        std = std.clamp_min(0.1 * float(std.mean()))
        normalised = (noise / std)[0]
        normalised = normalised - normalised.mean(dim=(1, 2), keepdim=True)
        rows, cols = normalised.shape[1] // crop, normalised.shape[2] // crop
        cut = normalised[:, : rows * crop, : cols * crop].reshape(3, rows, crop, cols, crop).permute(1, 3, 0, 2, 4)
        spectra = torch.fft.fft2(cut.reshape(rows * cols, 3, crop, crop))
        total += torch.einsum("tiyx,tjyx->ijyx", spectra, spectra.conj())
        tiles += rows * cols
    return total / (tiles * crop * crop)


def colouring_kernel(cross_power: torch.Tensor, size: int) -> np.ndarray:
    """The spatial filter (3, 3, size, size) whose frequency response is the square root of ``cross_power``.

    White unit noise convolved with the full filter has exactly ``cross_power`` as its cross
    spectrum; the central ``size`` x ``size`` taps are kept and each output channel is scaled to
    unit variance.
    """
    crop = cross_power.shape[-1]
    per_frequency = cross_power.permute(2, 3, 0, 1)  # (crop, crop, 3, 3), Hermitian PSD
    values, vectors = torch.linalg.eigh(per_frequency)
    root = vectors @ torch.diag_embed(values.clamp_min(0.0).sqrt().to(vectors.dtype)) @ vectors.mH
    taps = torch.fft.ifft2(root.permute(2, 3, 0, 1)).real  # H(-f) = conj(H(f)): the filter is real
    taps = torch.fft.fftshift(taps, dim=(-2, -1))
    start = crop // 2 - size // 2
    kernel = taps[..., start : start + size, start : start + size]
    gain = kernel.pow(2).sum(dim=(1, 2, 3)).sqrt()
    return (kernel / gain.view(3, 1, 1, 1)).numpy()
