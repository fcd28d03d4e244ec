"""Pixel noise: the noisy decoder's learned observation noise, placed by the content and
correlated in space and across colour channels as real camera noise is.

Not in the paper, where p(y | z, zn) has a fixed variance (the objective is a plain MSE) and
only the GAN and perceptual terms of a 300k-step GPU run push the decoder to draw noise
texture through zn. On a short CPU budget zn collapses on weak real noise (docs/training.md).

The observation noise is n = sigma(x, level) * u:

* sigma(x, level) = level * exp(f(x, level)) per pixel and channel, f a small convolutional
  network on the clean image and the level: where the noise is and how strong;
* u, a stationary Gaussian field of unit variance per channel: white N(0, 1) coloured by a
  learned 3 x 3 x k x k kernel (demosaicing, in-camera denoising and compression correlate
  real sRGB noise between neighbouring pixels and between channels) plus a learned white floor
  per channel (quantisation), both scaled so that each channel of u has variance 1. With
  ``kernel`` 1 the field is white (the first form of the head).

Its likelihood is exact for the field on a torus (Whittle): in the Fourier domain the field's
cross-spectrum is Sigma(f) = A(f) A(f)^H + diag(w^2), A the kernel's transfer function, and
-log p(u) = 1/2 sum_f u(f)^H Sigma(f)^-1 u(f) / N + 1/2 sum_f log det Sigma(f) + const. Samples
are drawn without wrap-around (the white noise has a halo of (k - 1) / 2 pixels), which the
periodic likelihood approximates up to the crop's border.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from senmvae.model.blocks import append_level
from senmvae.model.config import ModelConfig
from senmvae.model.distributions import Generator, standard_normal

LEVEL_FLOOR = 1e-4  # the log of the level is taken; a level of 0 means "no noise" anyway
INITIAL_WHITE_STD = 0.1  # the white floor a new coloured head starts with, relative to the kernel's centre tap

# (draw name, halo) -> N(0, 1) of the noise's shape, widened by ``halo`` pixels on every side
PixelSupply = Callable[[str, int], torch.Tensor]


class PixelNoise:
    """The observation noise n = sigma * u of a batch: ``log_sigma`` (B, C, H, W), and the
    unit-variance field u given by ``kernel`` (C, C, k, k; None: white) and ``white`` (C,)."""

    def __init__(self, log_sigma: torch.Tensor, kernel: torch.Tensor | None, white: torch.Tensor | None):
        self.log_sigma = log_sigma
        self.kernel = kernel
        self.white = white

    @property
    def sigma(self) -> torch.Tensor:
        return self.log_sigma.exp()

    @property
    def mean(self) -> torch.Tensor:
        return torch.zeros_like(self.log_sigma)

    @property
    def halo(self) -> int:
        return 0 if self.kernel is None else self.kernel.shape[-1] // 2

    def field(self, generator: Generator = None, supply: PixelSupply | None = None) -> torch.Tensor:
        """A draw of the unit-variance field u (B, C, H, W)."""
        like = self.log_sigma
        halo = self.halo

        def draw(name: str, pad: int) -> torch.Tensor:
            if supply is not None:
                return supply(name, pad)
            b, c, h, w = like.shape
            return standard_normal(torch.Size((b, c, h + 2 * pad, w + 2 * pad)), like, generator)

        eps = draw("pixel", halo)
        if self.kernel is None:
            return eps
        return F.conv2d(eps, self.kernel) + self.white.view(1, -1, 1, 1) * draw("pixel_white", 0)

    def sample(
        self, generator: Generator = None, temperature: float = 1.0, supply: PixelSupply | None = None
    ) -> torch.Tensor:
        """n = temperature * sigma * u (zero at temperature 0)."""
        if temperature == 0:
            return self.mean
        return temperature * self.sigma * self.field(generator, supply)

    def nll(self, residual: torch.Tensor) -> torch.Tensor:
        """Per-sample negative log likelihood of ``residual`` (nats per element, without the
        constant 1/2 log 2 pi): the Whittle likelihood of u = residual / sigma, plus the
        Jacobian sum of log sigma."""
        u = residual / self.sigma
        jacobian = self.log_sigma.flatten(1).mean(1)
        if self.kernel is None:
            return 0.5 * u.pow(2).flatten(1).mean(1) + jacobian
        b, c, h, w = u.shape
        spectrum = cross_spectrum(self.kernel, self.white, h, w)  # (H, W, C, C)
        chol = torch.linalg.cholesky(spectrum)
        coeffs = torch.fft.fft2(u.to(chol.real.dtype)).permute(0, 2, 3, 1).unsqueeze(-1)  # (B, H, W, C, 1)
        whitened = torch.linalg.solve_triangular(chol.expand(b, -1, -1, -1, -1), coeffs, upper=False)
        quadratic = whitened.abs().pow(2).flatten(1).sum(1) / (h * w)
        log_det = 2 * torch.diagonal(chol, dim1=-2, dim2=-1).real.log().sum()
        return (0.5 * quadratic + 0.5 * log_det) / (c * h * w) + jacobian


def widen_colouring(colour: torch.Tensor, kernel: int) -> torch.Tensor:
    """``colour`` (C, C, k, k) as a ``kernel`` x ``kernel`` colouring with zero taps around it:
    the same filter, hence the same field and likelihood, with room to learn longer correlations."""
    pad = (kernel - colour.shape[-1]) // 2
    if pad < 0 or colour.shape[-1] + 2 * pad != kernel:
        raise ValueError(f"a {colour.shape[-1]}x{colour.shape[-1]} colouring cannot widen to {kernel}x{kernel}")
    return F.pad(colour, (pad, pad, pad, pad))


def transfer_function(kernel: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """A(f) (H, W, C, C): the discrete Fourier transform of the impulse response of
    ``conv2d(., kernel)`` on a ``height`` x ``width`` torus (cross-correlation, centre tap at 0)."""
    c_out, c_in, k, _ = kernel.shape
    if k > min(height, width):
        raise ValueError(f"a {k}x{k} noise kernel needs crops of at least {k}x{k}, got {height}x{width}")
    response = torch.zeros(c_out, c_in, height, width, dtype=torch.float64, device=kernel.device)
    response[..., :k, :k] = torch.flip(kernel.double(), (-2, -1))
    response = torch.roll(response, (-(k // 2), -(k // 2)), (-2, -1))
    return torch.fft.fft2(response).permute(2, 3, 0, 1)


def cross_spectrum(kernel: torch.Tensor, white: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Sigma(f) = A(f) A(f)^H + diag(white^2) (H, W, C, C), complex128: the covariance of the
    Fourier coefficients of the field, divided by the number of pixels."""
    a = transfer_function(kernel, height, width)
    return a @ a.mH + torch.diag_embed(white.double().pow(2)).to(a.dtype)


class PixelNoiseHead(nn.Module):
    """sigma(x, level) (``layers`` 3x3 convolutions on the clean image and the level channel)
    and, with ``kernel`` > 1, the colouring kernel and white floor of the field u."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        spec = cfg.pixel_noise
        width = spec.channels
        channels = cfg.in_channels
        layers: list[nn.Module] = []
        prev = channels + 1
        for _ in range(spec.layers - 1):
            layers += [nn.Conv2d(prev, width, 3, padding=1), nn.ReLU(True)]
            prev = width
        last = nn.Conv2d(prev, channels, 3, padding=1)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)  # starts at sigma = level everywhere
        self.net = nn.Sequential(*layers, last)
        self.level_scale = cfg.level_scale
        if spec.kernel > 1:
            k = spec.kernel
            colour = torch.zeros(channels, channels, k, k)
            colour[range(channels), range(channels), k // 2, k // 2] = 1.0  # a new field is white
            self.colour = nn.Parameter(colour)
            self.white_log_std = nn.Parameter(torch.full((channels,), math.log(INITIAL_WHITE_STD)))
        else:
            self.colour = self.white_log_std = None

    def colouring_parameters(self) -> list[nn.Parameter]:
        """The weights of the colouring (kernel and white floor); none for a white head."""
        return [] if self.colour is None else [self.colour, self.white_log_std]

    def field_parameters(self) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """(kernel, white std), scaled so that every channel of the field has variance 1."""
        if self.colour is None:
            return None, None
        white_var = (2 * self.white_log_std).exp()
        variance = self.colour.pow(2).sum((1, 2, 3)) + white_var
        scale = variance.rsqrt()
        return self.colour * scale.view(-1, 1, 1, 1), (white_var * scale.pow(2)).sqrt()

    def forward(self, clean: torch.Tensor, level: torch.Tensor) -> PixelNoise:
        level = level.to(clean.dtype).view(-1)
        relative = self.net(append_level(clean, level * self.level_scale))
        log_level = level.clamp_min(LEVEL_FLOOR).log().view(-1, 1, 1, 1)
        return PixelNoise(relative + log_level, *self.field_parameters())
