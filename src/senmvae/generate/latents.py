"""The generation pass of SeNM-VAE with latent noise fixed to positions on the image.

:func:`generation_pass` is the y ~ p(y|x) path of :meth:`SeNMVAE.sample` (z ~ q(z|x),
zn ~ p(zn|z, level), decoder) with the standard normal draws handed in by the caller, and
only the branches generation uses are run (none of the noisy encoders, q(z|y), q(zn|y,z);
at temperature 0 not even the sigma branches).

:class:`LatentField` is the noise those draws come from when an image is processed in
tiles: every latent of every level is a field on the image plane, cut into fixed blocks that
are each drawn from their own seed. Two overlapping tiles therefore see the very same noise
where they overlap, their outputs there agree up to the effect of the tile edges, and
blending them with weights that sum to 1 keeps the full noise variance with no seam (two
independent noise fields averaged in an overlap would lose up to half of it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from senmvae.generate.seeding import stable_seed
from senmvae.model.blocks import GaussianHead, append_level
from senmvae.model.network import SeNMVAE

# (level index, latent name "z" or "zn", tensor the draw must match) -> N(0, 1) of that shape
NoiseSupply = Callable[[int, str, torch.Tensor], torch.Tensor]


class LatentField:
    """Standard normal latent noise of one image, as a function of position.

    The noise of latent ``name`` at level ``index`` is cut into ``BLOCK`` x ``BLOCK`` blocks of
    latent pixels (all channels); block (row, col) is drawn from a generator seeded by a hash
    of (key, index, name, row, col).
    """

    BLOCK = 64

    def __init__(self, key: int):
        self.key = int(key)

    def region(
        self, index: int, name: str, channels: int, top: int, left: int, height: int, width: int
    ) -> torch.Tensor:
        """The (channels, height, width) noise whose top-left latent pixel is (top, left)."""
        b = self.BLOCK
        rows = range(top // b, (top + height - 1) // b + 1)
        cols = range(left // b, (left + width - 1) // b + 1)
        canvas = torch.empty(channels, len(rows) * b, len(cols) * b)
        for i, row in enumerate(rows):
            for j, col in enumerate(cols):
                gen = torch.Generator().manual_seed(stable_seed("latent", self.key, index, name, row, col))
                canvas[:, i * b : (i + 1) * b, j * b : (j + 1) * b] = torch.randn(channels, b, b, generator=gen)
        y, x = top - rows[0] * b, left - cols[0] * b
        return canvas[:, y : y + height, x : x + width]


def field_supply(fields: Sequence[LatentField], top: int, left: int, input_height: int) -> NoiseSupply:
    """Noise for a batch whose row ``i`` is the tile of image ``fields[i]`` at pixel (top, left).

    ``top`` and ``left`` must be multiples of the model's size multiple, so that they fall on
    whole latent pixels at every level; ``input_height`` is the tile's height, from which each
    level's scale is read.
    """

    def supply(index: int, name: str, like: torch.Tensor) -> torch.Tensor:
        _, channels, height, width = like.shape
        scale = input_height // height
        rows = [f.region(index, name, channels, top // scale, left // scale, height, width) for f in fields]
        return torch.stack(rows).to(device=like.device, dtype=like.dtype)

    return supply


def _draw(head: GaussianHead, features: torch.Tensor, temperature: float, noise: NoiseSupply, index: int, name: str):
    mean = head.mean(features)
    if temperature == 0:
        return mean
    return mean + (temperature * head.log_sigma(features).exp()) * noise(index, name, mean)


def generation_pass(
    network: SeNMVAE,
    clean: torch.Tensor,
    level: torch.Tensor,
    temperature: float,
    noise: NoiseSupply,
    content_exact: bool = False,
) -> torch.Tensor:
    """y from x (B, C, H, W; sides multiples of ``size_multiple``) at per-row ``level`` (B,).

    ``content_exact``: return the noise that zn adds instead: the content latents at the
    mean of q(z|x), the image decoded with zn ~ p(zn|z, level) minus the image decoded from
    the very same z with every zn left out.
    """
    acts = network.clean_encoder(clean)
    level = level * network.config.level_scale
    h = torch.zeros_like(acts[-1])
    zs: list[torch.Tensor] = []
    for index in reversed(range(len(network.levels))):
        block = network.levels[index]
        z = _draw(block.q_z_clean, h + acts[index], 0.0 if content_exact else temperature, noise, index, "z")
        acts[index] = None  # the encoder activations are used top-down once; free them early
        if content_exact:
            zs.append(z)
        h = h + block.proj_z(z)
        zn = _draw(block.p_zn, append_level(h, level), temperature, noise, index, "zn")
        h = block.block(h + block.proj_zn(zn))
    y = network.output(h)
    if not content_exact:
        return y
    h = torch.zeros_like(zs[0])
    for z, index in zip(zs, reversed(range(len(network.levels)))):
        h = network.levels[index].block(h + network.levels[index].proj_z(z))
    return y - network.output(h)
