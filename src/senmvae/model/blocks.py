"""Building blocks of the SeNM-VAE network: residual dense blocks, resamplers, Gaussian heads."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from senmvae.model.distributions import DiagonalGaussian

# Inference on CPU runs a dense block over strips of STRIP_ROWS rows (each with the HALO rows
# above and below that its five convs reach) when the features of the whole image would take
# more than STRIP_ABOVE bytes: a strip's features then stay in the CPU caches (a 32 MiB L3 on
# the development machine), which made `paper` generation 1.1x faster at 256 x 256 and 1.2x at
# 512 x 512; below that the strips only add the halo rows (docs/performance.md).
STRIP_ROWS = 64
STRIP_ABOVE = 16 * 2**20
HALO = 5


class ResidualDenseBlock(nn.Module):
    """Five 3x3 convolutions with dense connections (RDB, Zhang et al. 2018).

    Conv ``k`` sees the input and every earlier output; LeakyReLU(0.2) follows the first
    four; the block returns ``input + 0.2 * conv5``. Weights start at 0.1 x Kaiming so the
    block starts close to the identity.
    """

    def __init__(self, channels: int, growth: int):
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv2d(channels + k * growth, growth if k < 4 else channels, 3, padding=1) for k in range(5)
        )
        for conv in self.convs:
            nn.init.kaiming_normal_(conv.weight, a=0, mode="fan_in")
            conv.weight.data.mul_(0.1)
            nn.init.zeros_(conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.run(x, *_folded(self.convs[-1], x.shape[1]))

    def run(
        self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, constant: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The block with ``(weight, bias)`` as its last conv (see :func:`_folded`).

        ``constant`` (B,): the block's input is ``x`` followed by one channel holding that value
        per sample, which is never built (see :func:`conv3x3`).
        """
        rows = x.shape[-2]
        stack = self.convs[-1].in_channels * rows * x.shape[-1] * x.element_size()
        if torch.is_grad_enabled() or x.device.type != "cpu" or stack <= STRIP_ABOVE or rows < 2 * STRIP_ROWS:
            return self._rows(x, 0, rows, weight, bias, constant)
        layout = torch.channels_last if x.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format
        out = x.new_empty((x.shape[0], weight.shape[0], rows, x.shape[-1])).contiguous(memory_format=layout)
        for i in range(x.shape[0]):
            value = None if constant is None else constant[i : i + 1]
            for top in range(0, rows, STRIP_ROWS):
                bottom = min(rows, top + STRIP_ROWS)
                strip = self._rows(x[i : i + 1], max(0, top - HALO), min(rows, bottom + HALO), weight, bias, value)
                out[i : i + 1, :, top:bottom] = strip[:, :, : bottom - top]
        return out

    def _rows(
        self, x: torch.Tensor, lo: int, hi: int, weight: torch.Tensor, bias: torch.Tensor, constant: torch.Tensor | None
    ) -> torch.Tensor:
        """The block's output from rows ``lo:hi`` of ``x``, for rows ``lo + HALO`` (0 at the top of
        the image) to ``hi - HALO`` (the last row at its bottom). Where ``lo:hi`` ends inside the
        image, each conv's row next to that end saw the zero padding instead of the image row
        beyond it, and is dropped."""
        rows, at = x.shape[-2], x.shape[1]
        features = x[:, :, lo:hi]
        for conv in self.convs[:-1]:
            cut = int(lo > 0), int(hi < rows)
            lo, hi = lo + cut[0], hi - cut[1]
            new = _crop(conv3x3(features, conv.weight, conv.bias, constant, at), *cut)
            features = torch.cat([_crop(features, *cut), F.leaky_relu(new, 0.2, inplace=True)], 1)
        return _crop(conv3x3(features, weight, bias, constant, at), int(lo > 0), int(hi < rows))


def _crop(t: torch.Tensor, top: int, bottom: int) -> torch.Tensor:
    """``t`` without its first ``top`` and last ``bottom`` rows."""
    return t[:, :, top : t.shape[-2] - bottom] if top or bottom else t


class Downsample(nn.Module):
    """Halve the resolution: PixelUnshuffle(2) then a 3x3 conv back to ``channels``."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(4 * channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pixel_unshuffle(x, 2))


class Upsample(nn.Module):
    """Double the resolution: PixelShuffle(2) then a 3x3 conv from ``channels / 4``."""

    def __init__(self, channels: int):
        super().__init__()
        if channels % 4:
            raise ValueError(f"upsampling needs channels divisible by 4, got {channels}")
        self.conv = nn.Conv2d(channels // 4, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pixel_shuffle(x, 2))


class GaussianHead(nn.Module):
    """Maps features to a diagonal Gaussian: two branches (RDB + 1x1 conv) for mean and log sigma.

    The 1x1 convs start with zero weights, so every head starts as N(bias, exp(bias)). Each
    branch is computed with its 1x1 conv folded into the block's last conv (:func:`_folded`),
    and the log sigma branch only when it is used.
    """

    def __init__(self, in_channels: int, out_channels: int, growth: int):
        super().__init__()
        self.mean = nn.Sequential(ResidualDenseBlock(in_channels, growth), nn.Conv2d(in_channels, out_channels, 1))
        self.log_sigma = nn.Sequential(ResidualDenseBlock(in_channels, growth), nn.Conv2d(in_channels, out_channels, 1))
        nn.init.zeros_(self.mean[1].weight)
        nn.init.zeros_(self.log_sigma[1].weight)

    def forward(self, x: torch.Tensor, constant: torch.Tensor | None = None) -> DiagonalGaussian:
        """The Gaussian of features ``x``; ``constant`` (B,): the head's last input channel holds
        this value per sample (the noise level of the zn heads), given apart from ``x``."""
        return DiagonalGaussian(self._branch(self.mean, x, constant), lambda: self._branch(self.log_sigma, x, constant))

    @staticmethod
    def _branch(branch: nn.Sequential, x: torch.Tensor, constant: torch.Tensor | None) -> torch.Tensor:
        block, out = branch
        return block.run(x, *_folded(block.convs[-1], x.shape[1] + (constant is not None), out), constant)


def _folded(last: nn.Conv2d, in_channels: int, out: nn.Conv2d | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Weight and bias of the one 3x3 conv on a dense block's features that equals
    ``out(x + 0.2 * last(features))`` (``out`` None: the identity), where the features start
    with the ``in_channels`` of x: the skip connection goes into the centre tap, and the 1x1
    conv ``out`` is folded into both. All of it is linear, so this is exact up to rounding; it
    saves the block's output pass (and the 1x1 conv), and for the zn heads (16 outputs instead
    of 65) three quarters of the last conv."""
    if out is None:
        proj = torch.eye(in_channels, dtype=last.weight.dtype, device=last.weight.device)
        weight, bias = 0.2 * last.weight, 0.2 * last.bias
    else:
        proj = out.weight[:, :, 0, 0]
        weight = 0.2 * torch.einsum("om,mikl->oikl", proj, last.weight)
        bias = out.bias + 0.2 * (proj @ last.bias)
    skip = F.pad(proj[:, :, None, None], (1, 1, 1, 1, 0, weight.shape[1] - in_channels))
    return weight + skip, bias


def conv3x3(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, constant: torch.Tensor | None = None, at: int = 0
) -> torch.Tensor:
    """3x3 conv with zero padding. With ``constant`` (B,), of ``x`` with one more channel inserted
    before channel ``at`` that holds ``constant[b]`` at every pixel of sample b; that channel is
    never built: its share is ``constant`` times the conv of an all-ones image, so the conv
    itself runs on ``x`` alone (oneDNN ran a conv of 193 channels at half the speed of one of
    192 on the development machine)."""
    if constant is None:
        return F.conv2d(x, weight, bias, padding=1)
    rest = torch.cat([weight[:, :at], weight[:, at + 1 :]], 1)
    response = _ones_response(weight[:, at : at + 1], x.shape[-2], x.shape[-1])
    return F.conv2d(x, rest, bias, padding=1).addcmul_(constant.to(x.dtype).view(-1, 1, 1, 1), response)


def _ones_response(weight: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(1, O, H, W), channels-last: the zero-padded 3x3 conv with ``weight`` (O, 1, 3, 3) of an
    all-ones image. Taps that fall on the padding are missing on the border rows and columns,
    so the response is a sum over taps of the weight times row validity times column validity."""
    rows = weight.new_ones(3, height)
    cols = weight.new_ones(3, width)
    rows[0, 0] = rows[2, -1] = cols[0, 0] = cols[2, -1] = 0
    return torch.einsum("oij,iy,jx->yxo", weight[:, 0], rows, cols).permute(2, 0, 1)[None]


def append_level(features: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
    """Append the per-sample noise level (shape (B,)) as one constant channel."""
    b, _, h, w = features.shape
    return torch.cat([features, level.to(features.dtype).view(b, 1, 1, 1).expand(b, 1, h, w)], 1)
