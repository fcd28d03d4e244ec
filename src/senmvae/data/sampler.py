"""Training samples: a map-style dataset of random crops from the three domains, and the endless
batch sampler that makes a run resumable and shardable by index.

Sample ``i`` is a pure function of ``(seed, i)``: the domain, the image, the crop and one of the
eight flips/rotations are drawn from a generator seeded with both. A resumed run (start at step
s) and a run split over W processes (each taking its slice of every batch) therefore see
exactly the samples of one uninterrupted single-process run, whatever the DataLoader workers do.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from senmvae.data.collection import SemiSupervisedSet
from senmvae.data.refs import ImageRef, Pair
from senmvae.domain import Domain
from senmvae.errors import UserError
from senmvae.noise_level import noise_level_of_arrays

EPOCH_LENGTH = 10**12  # "endless": the step sampler decides which indices are used


def dihedral(image: np.ndarray, k: int) -> np.ndarray:
    """The k-th of the 8 flips/rotations of an (H, W, C) array: rotate by 90*(k % 4), then mirror if k >= 4."""
    out = np.rot90(image, k % 4, axes=(0, 1))
    return out[:, ::-1] if k >= 4 else out


class _ImageCache:
    """Decoded images of this process, least recently used dropped beyond ``max_bytes``."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.images: OrderedDict[str, np.ndarray] = OrderedDict()
        self.bytes = 0

    def get(self, ref: ImageRef) -> np.ndarray:
        image = self.images.get(ref.name)
        if image is not None:
            self.images.move_to_end(ref.name)
            return image
        image = ref.load()
        self.images[ref.name] = image
        self.bytes += image.nbytes
        while self.bytes > self.max_bytes and len(self.images) > 1:
            _, old = self.images.popitem(last=False)
            self.bytes -= old.nbytes
        return image


class MixedDomainDataset(Dataset):
    """Random ``crop`` x ``crop`` samples of the paired, source and target domains.

    ``frequencies``: relative draw frequencies of (PAIRED, SOURCE, TARGET); a domain without
    images gets 0. Each item is ``{"clean": (3, crop, crop), "noisy": (3, crop, crop),
    "domain": int}`` with zeros on the missing side. Give it the ``dataset`` of a
    :func:`~senmvae.data.validate` report, so no image is smaller than the crop.

    ``image_levels``: every item also holds ``"level"``, the noise std of a pair's whole image
    (0 for an unpaired sample), computed once per pair.
    """

    def __init__(
        self,
        dataset: SemiSupervisedSet,
        crop: int = 64,
        frequencies: Sequence[float] = (1.0, 1.0, 1.0),
        seed: int = 0,
        cache_bytes: int = 2 * 1024**3,
        image_levels: bool = False,
    ):
        if crop < 1:
            raise UserError(f"crop must be a positive size, got {crop}")
        if len(frequencies) != 3 or any(f < 0 for f in frequencies):
            raise UserError(
                f"frequencies must be three non-negative numbers (paired, source, target), got {frequencies}"
            )
        self.pools: dict[Domain, list] = {
            Domain.PAIRED: list(dataset.paired),
            Domain.SOURCE: list(dataset.source),
            Domain.TARGET: list(dataset.target),
        }
        weights = np.array([f if self.pools[d] else 0.0 for d, f in zip(Domain, frequencies)], dtype=np.float64)
        if weights.sum() <= 0:
            raise UserError(
                "no domain can be sampled: every domain with images has frequency 0 (or the dataset is empty)"
            )
        self.probabilities = weights / weights.sum()
        self.crop = crop
        self.seed = seed
        self.cache_bytes = cache_bytes
        self._cache = _ImageCache(cache_bytes)
        self.image_levels = image_levels
        self._levels: dict[str, float] = {}

    def __len__(self) -> int:
        return EPOCH_LENGTH

    def __getstate__(self) -> dict:
        # Workers start with an empty cache of their own instead of a pickled copy.
        state = dict(self.__dict__)
        state["_cache"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._cache = _ImageCache(self.cache_bytes)

    def _crop_box(self, rng: np.random.Generator, image: np.ndarray, where: str) -> tuple[int, int]:
        h, w = image.shape[:2]
        if h < self.crop or w < self.crop:
            raise UserError(
                f"{where}: {w}x{h} is smaller than the {self.crop}x{self.crop} crop; "
                "run senmvae.data.validate on the dataset first (it leaves such images out)"
            )
        return int(rng.integers(0, h - self.crop + 1)), int(rng.integers(0, w - self.crop + 1))

    def _patch(self, image: np.ndarray, top: int, left: int, k: int) -> torch.Tensor:
        patch = dihedral(image[top : top + self.crop, left : left + self.crop], k)
        return torch.from_numpy(np.ascontiguousarray(patch.transpose(2, 0, 1)))

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | int]:
        if index < 0:
            raise IndexError(f"sample index must be >= 0, got {index}")
        rng = np.random.default_rng([self.seed, index])
        domain = Domain(int(rng.choice(3, p=self.probabilities)))
        pool = self.pools[domain]
        item = pool[int(rng.integers(len(pool)))]
        k = int(rng.integers(8))
        zeros = torch.zeros(3, self.crop, self.crop)
        if isinstance(item, Pair):
            clean = self._cache.get(item.clean)
            noisy = self._cache.get(item.noisy)
            if clean.shape != noisy.shape:
                raise UserError(
                    f"{item.noisy.location}: size {noisy.shape[1]}x{noisy.shape[0]} differs from its clean partner "
                    f"{item.clean.location}; run senmvae.data.validate first"
                )
            top, left = self._crop_box(rng, clean, item.clean.location)
            sample = {
                "clean": self._patch(clean, top, left, k),
                "noisy": self._patch(noisy, top, left, k),
                "domain": int(domain),
            }
            return sample | self._level(item, clean, noisy)
        image = self._cache.get(item)
        top, left = self._crop_box(rng, image, item.location)
        patch = self._patch(image, top, left, k)
        if domain is Domain.SOURCE:
            return {"clean": patch, "noisy": zeros, "domain": int(domain)} | self._level()
        return {"clean": zeros, "noisy": patch, "domain": int(domain)} | self._level()

    def _level(self, pair: Pair | None = None, clean: np.ndarray | None = None, noisy: np.ndarray | None = None):
        if not self.image_levels:
            return {}
        if pair is None:
            return {"level": 0.0}
        key = pair.noisy.name
        if key not in self._levels:
            self._levels[key] = noise_level_of_arrays(noisy, clean)
        return {"level": self._levels[key]}


class StepBatchSampler(Sampler[list[int]]):
    """Endless batches of sample indices: global step s covers s*B ... s*B + B - 1, and rank r
    of W takes the contiguous slice r*(B//W) ... (r+1)*(B//W) - 1 of it.

    One process with batch B therefore sees exactly the samples that W processes with B//W each
    see together, and ``start_step`` resumes a run where it stopped.
    """

    def __init__(self, batch_size: int, rank: int = 0, world_size: int = 1, start_step: int = 0):
        if batch_size < 1 or world_size < 1:
            raise UserError(f"batch size and world size must be positive, got {batch_size} and {world_size}")
        if batch_size % world_size:
            raise UserError(f"batch size {batch_size} must be divisible by the number of processes {world_size}")
        if not 0 <= rank < world_size:
            raise UserError(f"rank must be in [0, {world_size}), got {rank}")
        if start_step < 0:
            raise UserError(f"start step must be >= 0, got {start_step}")
        self.batch_size = batch_size
        self.rank = rank
        self.world_size = world_size
        self.start_step = start_step

    def __iter__(self) -> Iterator[list[int]]:
        per_rank = self.batch_size // self.world_size
        step = self.start_step
        while True:
            first = step * self.batch_size + self.rank * per_rank
            yield list(range(first, first + per_rank))
            step += 1
