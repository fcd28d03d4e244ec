"""DnCNN (Zhang et al., 2017): the downstream denoiser that judges a noise model.

``depth`` counts every convolution: one input conv with ReLU, ``depth - 2`` hidden convs
(optionally batch-normalised) with ReLU, and one output conv. With ``residual`` the network
predicts the noise and returns ``noisy - noise``; its output conv starts at zero, so an
untrained residual DnCNN is the identity and training can only start from the noisy input.
``unshuffle`` > 1 runs the network on a pixel-unshuffled image (FFDNet-style): each side
shrinks by that factor, so the receptive field grows by it at a fraction of the cost, which
is what spatially correlated camera noise needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from senmvae.config import Config, ConfigError

LR_SCHEDULES = ("constant", "cosine", "step")
NETWORKS = ("dncnn", "nafnet")


@dataclass
class DnCNNConfig(Config):
    """Network size and training schedule of the downstream denoiser.

    The defaults are the calibrated recipe (docs/downstream.md): trained on real PolyU pairs
    it beats the noisy input on held-out scenes by 1.2-1.5 dB (three seeds) in about 20 s of
    one CPU core, where an unshuffled (``unshuffle=1``) or PyTorch-initialised DnCNN of the
    same cost gains less or nothing.
    ``steps`` is the budget every noise model gets; ``time_budget_s`` optionally stops
    training earlier (wall clock of the optimisation steps, batch synthesis included).
    ``lr_schedule``: "constant", "cosine" (to ``lr * lr_min_ratio``) or "step" (halved at
    50 %, 75 % and 90 % of ``steps``), after ``warmup_steps`` of linear warm-up.
    """

    # "dncnn", or "nafnet" (senmvae.downstream.nafnet: depth = its middle blocks, width = its
    # full-resolution channels); the training fields below apply to both.
    network: str = "dncnn"
    depth: int = 5
    width: int = 32
    residual: bool = True
    batch_norm: bool = False
    bias: bool = True
    unshuffle: int = 2
    batch_size: int = 8
    crop: int = 64
    steps: int = 1000
    time_budget_s: float | None = None
    lr: float = 1e-3
    lr_schedule: str = "cosine"
    lr_min_ratio: float = 0.01
    warmup_steps: int = 20
    adam_betas: tuple[float, ...] = (0.9, 0.999)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.network not in NETWORKS:
            raise ConfigError(f"network must be one of {', '.join(NETWORKS)}, got {self.network!r}")
        if self.depth < (2 if self.network == "dncnn" else 1):
            raise ConfigError(
                f"depth must be at least 2 for dncnn (input and output convs) and 1 for nafnet, got {self.depth}"
            )
        for name in ("width", "unshuffle", "batch_size", "crop", "steps"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")
        multiple = self.unshuffle * (4 if self.network == "nafnet" else 1)
        if self.crop % multiple:
            raise ConfigError(
                f"crop ({self.crop}) must be a multiple of unshuffle ({self.unshuffle})"
                + (f" times 4 for nafnet ({multiple})" if self.network == "nafnet" else "")
            )
        if self.lr_schedule not in LR_SCHEDULES:
            raise ConfigError(f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got {self.lr_schedule!r}")
        if self.lr <= 0 or not 0 <= self.lr_min_ratio <= 1:
            raise ConfigError(f"need lr > 0 and 0 <= lr_min_ratio <= 1, got {self.lr} and {self.lr_min_ratio}")
        if self.warmup_steps < 0:
            raise ConfigError(f"warmup_steps must be >= 0, got {self.warmup_steps}")
        if len(self.adam_betas) != 2:
            raise ConfigError(f"adam_betas must hold two numbers, got {list(self.adam_betas)}")


class DnCNN(nn.Module):
    """Maps a noisy (B, 3, H, W) batch to a denoised one of the same shape.

    H and W must be multiples of ``config.unshuffle``; :func:`denoise_image` pads for you.
    """

    def __init__(self, config: DnCNNConfig, channels: int = 3):
        super().__init__()
        self.config = config
        factor = config.unshuffle
        io_channels = channels * factor * factor
        layers: list[nn.Module] = [nn.Conv2d(io_channels, config.width, 3, padding=1, bias=config.bias), nn.ReLU()]
        for _ in range(config.depth - 2):
            layers.append(
                nn.Conv2d(config.width, config.width, 3, padding=1, bias=config.bias and not config.batch_norm)
            )
            if config.batch_norm:
                layers.append(nn.BatchNorm2d(config.width))
            layers.append(nn.ReLU())
        self.body = nn.Sequential(*layers)
        self.head = nn.Conv2d(config.width, io_channels, 3, padding=1, bias=config.bias)
        for layer in self.body:
            if isinstance(layer, nn.Conv2d):
                # He init keeps the ReLU activations at scale through depth; PyTorch's default
                # shrinks them about 2.5-fold per layer, and then training on PolyU gains nothing.
                nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
                if layer.bias is not None:
                    nn.init.zeros_(layer.bias)
        if config.residual:
            nn.init.zeros_(self.head.weight)
            if self.head.bias is not None:
                nn.init.zeros_(self.head.bias)
        self.unshuffle = nn.PixelUnshuffle(factor) if factor > 1 else nn.Identity()
        self.shuffle = nn.PixelShuffle(factor) if factor > 1 else nn.Identity()

    def forward(self, noisy: torch.Tensor) -> torch.Tensor:
        out = self.shuffle(self.head(self.body(self.unshuffle(noisy))))
        return noisy - out if self.config.residual else out

    @property
    def size_multiple(self) -> int:
        return self.config.unshuffle


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
