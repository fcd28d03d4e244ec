"""A tiny SeNM-VAE whose output really depends on its latents, and small image folders."""

from pathlib import Path

import numpy as np
import torch

from senmvae.data.io import write_image
from senmvae.model import SeNMVAE, model_preset, save_model
from senmvae.model.config import PixelNoiseConfig


def stochastic_tiny(seed: int = 0, scale: float = 0.05, pixel_noise: bool = False) -> SeNMVAE:
    """The tiny preset with every weight perturbed (at initialisation the latent projections
    are zero, so the output would not depend on the latents at all), its output shifted to
    mid-grey so that little of it is clipped; ``pixel_noise`` adds a small pixel-noise head."""
    cfg = model_preset("tiny")
    if pixel_noise:
        cfg = cfg.replace(pixel_noise=PixelNoiseConfig(channels=4, layers=2))
    net = SeNMVAE(cfg)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in net.parameters():
            param.add_(scale * torch.randn(param.shape, generator=generator))
        net.output[-1].bias.add_(0.5)
    return net.eval()


def smooth_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A float (H, W, 3) image with some structure, in [0.2, 0.8]."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    phase = rng.uniform(0, 6.28, 3)
    return np.stack([0.5 + 0.3 * np.sin(5 * x + 3 * y + p) for p in phase], -1).astype(np.float32)


def write_clean_folder(root: Path, sizes: list[tuple[int, int]], names: list[str] | None = None) -> Path:
    names = names or [f"img{i}" for i in range(len(sizes))]
    for i, (name, (h, w)) in enumerate(zip(names, sizes)):
        write_image(root / f"{name}.png", smooth_image(h, w, seed=i))
    return root


def save_run(root: Path, net: SeNMVAE) -> Path:
    """A training run folder as training leaves it: RUN/model.safetensors."""
    save_model(net, root / "model.safetensors")
    (root / "checkpoints").mkdir(parents=True, exist_ok=True)
    return root
