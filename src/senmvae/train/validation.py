"""Validation while training, on held-out pairs.

* ``noise_kl``: KL(real || synthetic) between histograms of the noise y - x, NeCA binning
  (:func:`senmvae.metrics.kl.kl_noise_histogram`), the synthetic image drawn from p(y | x) at
  the pair's true noise std, averaged over pairs (lower is better);
* ``psnr_recon``: PSNR of the noisy reconstruction (posterior pass of a paired sample) against
  the real noisy image (higher is better);
* a grid per step: one row per pair with clean, real noisy, synthetic noisy, real noise and
  synthetic noise (noise maps at 0.5 grey, +-3 real stds spanning black to white).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from senmvae.data.refs import Pair
from senmvae.domain import Domain
from senmvae.metrics.fidelity import psnr
from senmvae.metrics.kl import kl_noise_histogram
from senmvae.model.network import SeNMVAE
from senmvae.noise_level import noise_level

GRID_GAP = 2  # white pixels between tiles


@dataclass
class ValidationSet:
    clean: torch.Tensor  # (N, 3, S, S)
    noisy: torch.Tensor


def load_validation_set(pairs: list[Pair], count: int, crop: int, multiple: int) -> ValidationSet | None:
    """Centre crops of the first ``count`` pairs; the side is ``crop`` or less, a multiple of ``multiple``."""
    images = [(pair.clean.load(), pair.noisy.load()) for pair in pairs[:count]]
    if not images:
        return None
    side = min(crop, *(min(c.shape[:2]) for c, _ in images))
    side -= side % multiple
    if side < multiple:
        return None

    def centre(image: np.ndarray) -> torch.Tensor:
        top, left = (image.shape[0] - side) // 2, (image.shape[1] - side) // 2
        return torch.from_numpy(np.ascontiguousarray(image[top : top + side, left : left + side])).permute(2, 0, 1)

    return ValidationSet(
        clean=torch.stack([centre(c) for c, _ in images]), noisy=torch.stack([centre(n) for _, n in images])
    )


@torch.no_grad()
def evaluate(
    model: SeNMVAE, data: ValidationSet, p_clean: float = 0.5, seed: int = 0
) -> tuple[dict[str, float], np.ndarray]:
    """(metrics, grid image (H, W, 3) in [0, 1]); the same seed gives the same draws every time."""
    device = next(model.parameters()).device
    synthetic, recon = [], []
    generator = torch.Generator(device=device)
    paired = torch.full((1,), int(Domain.PAIRED), dtype=torch.long, device=device)
    for i in range(len(data.clean)):
        clean, noisy = data.clean[i : i + 1].to(device), data.noisy[i : i + 1].to(device)
        level = noise_level(noisy, clean)
        generator.manual_seed(seed + i)
        synthetic.append(model.sample(clean, level, generator=generator).float().cpu())
        out = model(clean, noisy, paired, level, p_clean=p_clean, generator=generator)
        recon.append(out.recon_noisy.float().clamp(0, 1).cpu())
    synthetic_batch, recon_batch = torch.cat(synthetic), torch.cat(recon)
    metrics = {
        "noise_kl": float(kl_noise_histogram(synthetic_batch, data.noisy, data.clean, convention="neca")),
        "psnr_recon": float(psnr(recon_batch, data.noisy).mean()),
    }
    return metrics, validation_grid(data.clean, data.noisy, synthetic_batch)


def validation_grid(clean: torch.Tensor, noisy: torch.Tensor, synthetic: torch.Tensor) -> np.ndarray:
    gain = 1.0 / (6.0 * noise_level(noisy, clean).clamp_min(1e-4)).view(-1, 1, 1, 1)
    tiles = [
        clean,
        noisy,
        synthetic.clamp(0, 1),
        (0.5 + gain * (noisy - clean)).clamp(0, 1),
        (0.5 + gain * (synthetic - clean)).clamp(0, 1),
    ]
    n, _, h, w = clean.shape
    grid = torch.ones(3, n * (h + GRID_GAP) - GRID_GAP, len(tiles) * (w + GRID_GAP) - GRID_GAP)
    for row in range(n):
        for col, tile in enumerate(tiles):
            top, left = row * (h + GRID_GAP), col * (w + GRID_GAP)
            grid[:, top : top + h, left : left + w] = tile[row]
    return grid.permute(1, 2, 0).numpy()
