"""PatchGAN discriminator (Isola et al. 2017) used on the noisy reconstructions."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from senmvae.config import Config, ConfigError


@dataclass
class DiscriminatorConfig(Config):
    base_channels: int = 64
    layers: int = 3
    norm: str = "batch"  # "batch" (as pix2pix), "instance" or "none"

    def __post_init__(self) -> None:
        if self.norm not in ("batch", "instance", "none"):
            raise ConfigError(f"discriminator norm must be batch, instance or none, got {self.norm!r}")


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    return nn.Identity()


class PatchDiscriminator(nn.Module):
    """Stride-2 4x4 convs doubling the width (capped at 8x), then two stride-1 convs to one logit map."""

    def __init__(self, in_channels: int, cfg: DiscriminatorConfig):
        super().__init__()
        c = cfg.base_channels
        layers: list[nn.Module] = [nn.Conv2d(in_channels, c, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        width = c
        for i in range(1, cfg.layers + 1):
            prev, width = width, c * min(2**i, 8)
            stride = 2 if i < cfg.layers else 1
            layers += [
                nn.Conv2d(prev, width, 4, stride, 1, bias=cfg.norm == "none"),
                _norm(cfg.norm, width),
                nn.LeakyReLU(0.2, True),
            ]
        layers.append(nn.Conv2d(width, 1, 4, 1, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)
