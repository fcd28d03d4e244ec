"""Where the denoiser's training batches come from.

A crop source is any callable ``(batch_size, crop, generator) -> (noisy, clean)`` returning
two (B, 3, crop, crop) float tensors. :class:`RealPairCrops` cuts them from real pairs,
:class:`SynthesizedCrops` cuts clean crops from source-domain images and passes them
through a noise model, and :class:`MixedCrops` splits each batch between several sources.
:func:`training_crops` builds the standard mix for one noise model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from senmvae.baselines.oracle import RealNoiseOracle
from senmvae.baselines.pairs import PairLike, load_pairs
from senmvae.errors import UserError
from senmvae.generate.base import NoiseSource

CropSource = Callable[[int, int, torch.Generator], tuple[torch.Tensor, torch.Tensor]]


def _to_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).permute(2, 0, 1)


def _random_crops(
    images: Sequence[Sequence[torch.Tensor]], count: int, crop: int, generator: torch.Generator, augment: bool
) -> list[torch.Tensor]:
    """``count`` aligned crops of tuples of (3, H, W) images, stacked per tuple position.

    Each crop picks an image uniformly, a position uniformly and, with ``augment``, one of
    the 8 flips/rotations, the same for every image of its tuple.
    """
    stacks: list[list[torch.Tensor]] = [[] for _ in images[0]]
    for _ in range(count):
        group = images[int(torch.randint(len(images), (1,), generator=generator))]
        height, width = group[0].shape[-2:]
        if height < crop or width < crop:
            raise UserError(f"a {height}x{width} training image is smaller than the {crop}x{crop} crop; lower the crop")
        top = int(torch.randint(height - crop + 1, (1,), generator=generator))
        left = int(torch.randint(width - crop + 1, (1,), generator=generator))
        turns, flip = (int(v) for v in torch.randint(4, (2,), generator=generator)) if augment else (0, 0)
        for stack, image in zip(stacks, group):
            patch = image[:, top : top + crop, left : left + crop]
            if flip % 2:
                patch = patch.flip(-1)
            stack.append(torch.rot90(patch, turns, dims=(-2, -1)))
    return [torch.stack(stack) for stack in stacks]


class RealPairCrops:
    """Aligned random crops of real (clean, noisy) pairs, with flips and 90-degree rotations."""

    def __init__(self, pairs: Sequence[PairLike], augment: bool = True):
        self.pairs = [(_to_tensor(clean), _to_tensor(noisy)) for clean, noisy in load_pairs(pairs)]
        self.augment = augment

    def __call__(self, batch_size: int, crop: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        clean, noisy = _random_crops(self.pairs, batch_size, crop, generator, self.augment)
        return noisy, clean


class SynthesizedCrops:
    """Random crops of clean source-domain images, made noisy by ``noise_source.sample``.

    ``level`` and ``temperature`` go to the noise model unchanged (None: its own default).
    """

    def __init__(
        self,
        noise_source: NoiseSource,
        clean_images: Sequence[np.ndarray],
        augment: bool = True,
        level: float | None = None,
        temperature: float = 1.0,
    ):
        if not clean_images:
            raise UserError("no clean source-domain images were given to synthesize training pairs from")
        self.noise_source = noise_source
        self.images = [(_to_tensor(image),) for image in clean_images]
        self.augment = augment
        self.level = level
        self.temperature = temperature

    @torch.no_grad()
    def __call__(self, batch_size: int, crop: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        (clean,) = _random_crops(self.images, batch_size, crop, generator, self.augment)
        noisy = self.noise_source.sample(clean, level=self.level, temperature=self.temperature, generator=generator)
        return noisy.clamp(0.0, 1.0), clean


class MixedCrops:
    """Each batch split between sources in fixed proportions (largest remainder rounding)."""

    def __init__(self, parts: Sequence[tuple[CropSource, float]]):
        parts = [(source, float(weight)) for source, weight in parts if weight > 0]
        if not parts:
            raise UserError("a mix of training crops needs at least one source with a positive weight")
        total = sum(weight for _, weight in parts)
        self.sources = [source for source, _ in parts]
        self.fractions = [weight / total for _, weight in parts]

    def counts(self, batch_size: int) -> list[int]:
        exact = [fraction * batch_size for fraction in self.fractions]
        counts = [int(np.floor(v)) for v in exact]
        by_remainder = sorted(range(len(exact)), key=lambda i: counts[i] - exact[i])
        for i in by_remainder[: batch_size - sum(counts)]:
            counts[i] += 1
        return counts

    def __call__(self, batch_size: int, crop: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        batches = [source(n, crop, generator) for source, n in zip(self.sources, self.counts(batch_size)) if n]
        return torch.cat([noisy for noisy, _ in batches]), torch.cat([clean for _, clean in batches])


def training_crops(
    noise_source: NoiseSource,
    source_clean: Sequence[np.ndarray],
    paired: Sequence[PairLike] = (),
    paired_fraction: float = 0.5,
    level: float | None = None,
) -> CropSource:
    """The training crops of the downstream comparison for one noise model.

    Synthesized crops from ``source_clean`` make up ``1 - paired_fraction`` of each batch and
    real crops of ``paired`` the rest (all synthesized when there are no pairs). The real
    noise oracle cannot synthesize: for it the crops are all real, cut from the pairs it holds.
    """
    if isinstance(noise_source, RealNoiseOracle):
        return RealPairCrops(noise_source.pairs)
    if not 0.0 <= paired_fraction <= 1.0:
        raise UserError(f"paired_fraction must be within [0, 1], got {paired_fraction}")
    synthesized = SynthesizedCrops(noise_source, source_clean, level=level)
    if not paired or paired_fraction == 0.0:
        return synthesized
    return MixedCrops([(synthesized, 1.0 - paired_fraction), (RealPairCrops(paired), paired_fraction)])
