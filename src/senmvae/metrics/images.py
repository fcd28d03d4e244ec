"""Accepting images the way the project passes them: numpy (H, W, 3) in [0, 1] or torch (B, 3, H, W).

Single-image metrics (PSNR, SSIM, AKLD, ...) take two or three arguments of the same shape and
return one value per image. Set metrics (Frechet distances, histogram KL, noise statistics)
take sequences of images that may differ in size.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import torch

from senmvae.errors import UserError

ImageLike = np.ndarray | torch.Tensor
ImageSet = ImageLike | Iterable[ImageLike]


class MetricInputError(UserError, ValueError):
    """Images that a metric cannot compare (wrong layout, mismatched sizes)."""


def as_batch(images: ImageLike, name: str = "images", dtype: torch.dtype | None = None) -> torch.Tensor:
    """(B, 3, H, W) torch tensor from numpy (H, W, 3) / (N, H, W, 3) or torch (3, H, W) / (B, 3, H, W)."""
    if isinstance(images, np.ndarray):
        arr = images
        if arr.ndim == 3:
            arr = arr[None]
        if arr.ndim != 4 or arr.shape[-1] != 3:
            raise MetricInputError(
                f"{name}: expected a numpy image (H, W, 3) or stack (N, H, W, 3), got shape {images.shape}"
            )
        out = torch.from_numpy(np.ascontiguousarray(arr)).permute(0, 3, 1, 2)
    elif isinstance(images, torch.Tensor):
        out = images[None] if images.dim() == 3 else images
        if out.dim() != 4 or out.shape[1] != 3:
            raise MetricInputError(f"{name}: expected a torch batch (B, 3, H, W), got shape {tuple(images.shape)}")
    else:
        raise MetricInputError(f"{name}: expected a numpy array or torch tensor, got {type(images).__name__}")
    if dtype is not None:
        out = out.to(dtype)
    elif not out.is_floating_point():
        out = out.float()
    return out


def as_batches(*images: ImageLike, names: tuple[str, ...], dtype: torch.dtype | None = None) -> list[torch.Tensor]:
    """Several batches that must share one shape (e.g. a restored image and its reference)."""
    batches = [as_batch(img, name, dtype) for img, name in zip(images, names)]
    shapes = {tuple(b.shape) for b in batches}
    if len(shapes) != 1:
        listed = ", ".join(f"{n} {tuple(b.shape)}" for n, b in zip(names, batches))
        raise MetricInputError(f"images to compare must have the same shape: {listed}")
    device = batches[0].device
    return [b.to(device) for b in batches]


def iter_images(images: ImageSet, name: str = "images") -> Iterator[torch.Tensor]:
    """Each image of a set as a (1, 3, H, W) tensor; a set is a batch or a sequence of images."""
    if isinstance(images, (np.ndarray, torch.Tensor)):
        yield from as_batch(images, name).split(1)
        return
    for i, image in enumerate(images):
        yield from as_batch(image, f"{name}[{i}]").split(1)


def iter_image_groups(*sets: ImageSet, names: tuple[str, ...]) -> Iterator[list[torch.Tensor]]:
    """Corresponding images of several sets (e.g. synthetic, real, clean), checked for equal shapes."""
    iterators = [iter_images(s, n) for s, n in zip(sets, names)]
    index = 0
    while True:
        group = [next(it, None) for it in iterators]
        if all(g is None for g in group):
            return
        if any(g is None for g in group):
            counts = ", ".join(f"{n} ended" if g is None else f"{n} continues" for g, n in zip(group, names))
            raise MetricInputError(f"image sets differ in length at image {index}: {counts}")
        yield as_batches(*group, names=tuple(f"{n}[{index}]" for n in names))
        index += 1


def quantize_8bit(images: torch.Tensor) -> torch.Tensor:
    """Clip to [0, 1] and round to the 256 levels an 8-bit file would hold."""
    return torch.round(images.clamp(0.0, 1.0) * 255.0) / 255.0
