"""Synthetic (noisy, clean) training pairs made on the fly from clean images and a noise model."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch.utils.data import Dataset

from senmvae.errors import UserError
from senmvae.generate.base import NoiseSource
from senmvae.generate.folders import images_in_folder
from senmvae.generate.levels import LevelPolicy
from senmvae.generate.seeding import stream_generator


class CleanImage(Protocol):
    name: str

    def load(self) -> np.ndarray: ...


class SyntheticPairs(Dataset):
    """Random ``crop`` x ``crop`` crops of clean images, each with a fresh synthetic noisy partner.

    ``clean``: a folder of images, or a sequence of objects with ``.name`` and ``.load()``
    (returning float (H, W, 3) in [0, 1]), such as the ``source`` list of a dataset from
    :func:`senmvae.data.load_spec`. Item ``i`` is crop ``i % crops_per_image`` of image
    ``i // crops_per_image``: ``(noisy, clean)``, two float32 (3, crop, crop) tensors, the noisy
    one clipped to [0, 1] unless ``clip`` is false. ``level`` and ``temperature`` go to
    ``noise_model.sample`` (None: the model's own choice).

    Everything random (crop position, flip/rotation with ``augment``, noise level, noise)
    comes from one generator per item seeded by (``seed``, image name, epoch and crop index),
    so an item is the same whichever worker or order it is drawn in, and changes when
    :meth:`set_epoch` is called with a new epoch.
    """

    def __init__(
        self,
        clean: str | Path | Sequence[CleanImage],
        noise_model: NoiseSource,
        crop: int = 128,
        crops_per_image: int = 1,
        seed: int = 0,
        augment: bool = False,
        level: float | str | LevelPolicy | None = None,
        temperature: float | None = None,
        clip: bool = True,
    ):
        self.images = images_in_folder(clean, "clean") if isinstance(clean, (str, Path)) else list(clean)
        if not self.images:
            raise UserError("no clean images were given to synthesize training pairs from")
        if crop < 1 or crops_per_image < 1:
            raise UserError(f"crop and crops_per_image must be positive, got {crop} and {crops_per_image}")
        self.noise_model = noise_model
        self.crop = int(crop)
        self.crops_per_image = int(crops_per_image)
        self.seed = int(seed)
        self.augment = bool(augment)
        self.level = level
        self.temperature = temperature
        self.clip = bool(clip)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Draw new crops and new noise (call once per epoch, like a DistributedSampler)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.images) * self.crops_per_image

    def _clean_crop(self, image: CleanImage, generator: torch.Generator) -> torch.Tensor:
        array = image.load()
        tensor = array if isinstance(array, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(array))
        tensor = tensor.float().permute(2, 0, 1)
        height, width = tensor.shape[-2:]
        if height < self.crop or width < self.crop:
            raise UserError(
                f"clean image {image.name} is {height}x{width}, smaller than the {self.crop} crop; lower crop"
            )
        top = int(torch.randint(height - self.crop + 1, (), generator=generator))
        left = int(torch.randint(width - self.crop + 1, (), generator=generator))
        patch = tensor[:, top : top + self.crop, left : left + self.crop]
        if self.augment:
            turns, flip = (int(v) for v in torch.randint(4, (2,), generator=generator))
            patch = torch.rot90(patch.flip(-1) if flip % 2 else patch, turns, dims=(-2, -1))
        return patch.contiguous()

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not 0 <= index < len(self):
            raise IndexError(index)
        image = self.images[index // self.crops_per_image]
        sample_index = self.epoch * self.crops_per_image + index % self.crops_per_image
        generator = stream_generator(self.seed, image.name, sample_index)
        clean = self._clean_crop(image, generator)
        options = {} if self.temperature is None else {"temperature": self.temperature}
        noisy = self.noise_model.sample(clean[None], level=self.level, generator=[generator], **options)[0].cpu()
        return (noisy.clamp(0.0, 1.0) if self.clip else noisy), clean
