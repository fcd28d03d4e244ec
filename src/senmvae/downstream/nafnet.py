"""NAFNet (Chen et al., ECCV 2022), width- and depth-reduced for this CPU: the stronger denoiser
of the paper's Table 2-3 experiments (docs/paper.md), where the paper uses the full NAFNet.

A U-Net of NAF blocks (layer norm, 1x1 expansion, depthwise 3x3, SimpleGate, simplified channel
attention; then a gated 1x1 feed-forward), each block's two residual branches scaled by
zero-initialised factors, so that with the zero-initialised output convolution an untrained
network is the identity, as the residual DnCNN is. Two down-sampling levels of one block each,
``config.depth`` blocks in the middle, ``config.width`` channels at full resolution (doubled per
level); ``config.unshuffle`` > 1 runs it on a pixel-unshuffled image, as for the DnCNN.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from senmvae.downstream.dncnn import DnCNNConfig

LEVELS = 2


class LayerNorm2d(nn.Module):
    """Layer norm over the channels of each pixel, with a per-channel scale and shift."""

    def __init__(self, channels: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x.permute(0, 2, 3, 1), x.shape[1:2], self.weight, self.bias, self.eps).permute(0, 3, 1, 2)


def simple_gate(x: torch.Tensor) -> torch.Tensor:
    first, second = x.chunk(2, dim=1)
    return first * second


class NAFBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.norm1 = LayerNorm2d(channels)
        self.expand = nn.Conv2d(channels, 2 * channels, 1)
        self.depthwise = nn.Conv2d(2 * channels, 2 * channels, 3, padding=1, groups=2 * channels)
        self.attention = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(channels, channels, 1))
        self.project = nn.Conv2d(channels, channels, 1)
        self.norm2 = LayerNorm2d(channels)
        self.ffn_in = nn.Conv2d(channels, 2 * channels, 1)
        self.ffn_out = nn.Conv2d(channels, channels, 1)
        self.beta = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.gamma = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = simple_gate(self.depthwise(self.expand(self.norm1(x))))
        x = x + self.beta * self.project(y * self.attention(y))
        return x + self.gamma * self.ffn_out(simple_gate(self.ffn_in(self.norm2(x))))


class NAFNet(nn.Module):
    """Maps a noisy (B, 3, H, W) batch to a denoised one; H and W multiples of :attr:`size_multiple`
    (:func:`~senmvae.downstream.denoise_image` pads for you)."""

    def __init__(self, config: DnCNNConfig, channels: int = 3):
        super().__init__()
        self.config = config
        factor, width = config.unshuffle, config.width
        io_channels = channels * factor * factor
        self.unshuffle = nn.PixelUnshuffle(factor) if factor > 1 else nn.Identity()
        self.shuffle = nn.PixelShuffle(factor) if factor > 1 else nn.Identity()
        self.intro = nn.Conv2d(io_channels, width, 3, padding=1)
        widths = [width * 2**level for level in range(LEVELS + 1)]
        self.encoders = nn.ModuleList(NAFBlock(w) for w in widths[:-1])
        self.downs = nn.ModuleList(nn.Conv2d(w, 2 * w, 2, stride=2) for w in widths[:-1])
        self.middle = nn.Sequential(*(NAFBlock(widths[-1]) for _ in range(config.depth)))
        self.ups = nn.ModuleList(
            nn.Sequential(nn.Conv2d(2 * w, 4 * w, 1, bias=False), nn.PixelShuffle(2)) for w in reversed(widths[:-1])
        )
        self.decoders = nn.ModuleList(NAFBlock(w) for w in reversed(widths[:-1]))
        self.ending = nn.Conv2d(width, io_channels, 3, padding=1)
        nn.init.zeros_(self.ending.weight)
        nn.init.zeros_(self.ending.bias)

    def forward(self, noisy: torch.Tensor) -> torch.Tensor:
        x = self.intro(self.unshuffle(noisy))
        skips = []
        for block, down in zip(self.encoders, self.downs):
            x = block(x)
            skips.append(x)
            x = down(x)
        x = self.middle(x)
        for up, block, skip in zip(self.ups, self.decoders, reversed(skips)):
            x = block(up(x) + skip)
        return noisy + self.shuffle(self.ending(x))

    @property
    def size_multiple(self) -> int:
        return self.config.unshuffle * 2**LEVELS
