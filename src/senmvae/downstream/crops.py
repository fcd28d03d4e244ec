"""Where the denoiser's training batches come from.

A crop source is any callable ``(batch_size, crop, generator) -> (noisy, clean)`` returning
two (B, 3, crop, crop) float tensors. :class:`PairCrops` cuts them from (clean, noisy) pairs,
real or synthesized, and :class:`MixedCrops` splits each batch between several sources.

Synthetic pairs are made up front by :func:`synthesize_pairs`: a pool of a few noisy versions
of every clean image, from which the denoiser then cuts its crops exactly as it does from real
pairs. A training step then costs the same whatever made the noise, so every noise model's
denoiser can be given the same number of steps, and synthesis time (seconds for a Gaussian,
minutes for SeNM-VAE) never eats into any denoiser's training. :func:`training_crops` builds
the batches of one training mode (:data:`TRAINING_MODES`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from senmvae.baselines.pairs import PairLike, load_pairs
from senmvae.errors import UserError
from senmvae.generate.base import NoiseSource
from senmvae.generate.seeding import stream_generator

CropSource = Callable[[int, int, torch.Generator], tuple[torch.Tensor, torch.Tensor]]

# "synthetic": synthetic pairs only (the paper's Table 1); "synthetic+paired": each batch split
# between synthetic pairs and the real paired ones (its Table 2).
TRAINING_MODES = ("synthetic", "synthetic+paired")


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


class PairCrops:
    """Aligned random crops of (clean, noisy) pairs, real or synthesized, with flips and 90-degree rotations."""

    def __init__(self, pairs: Sequence[PairLike], augment: bool = True):
        self.pairs = [(_to_tensor(clean), _to_tensor(noisy)) for clean, noisy in load_pairs(pairs)]
        self.augment = augment

    def __call__(self, batch_size: int, crop: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        clean, noisy = _random_crops(self.pairs, batch_size, crop, generator, self.augment)
        return noisy, clean


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


@torch.no_grad()
def synthesize_pairs(
    noise_source: NoiseSource,
    clean_images: Sequence[np.ndarray],
    names: Sequence[str],
    draws: int,
    seed: int,
    levels: Sequence[float] | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``draws`` noisy versions of every clean (H, W, 3) image, as (clean, noisy) pairs clipped to [0, 1].

    Draw ``d`` of the image called ``names[i]`` comes from its own stream,
    ``stream_generator(seed, names[i], d)``, so a pool depends on neither the order of the images
    nor on the other draws. ``levels``: one noise level per image (e.g. the std of its real
    noise), passed to ``noise_source.sample``; None lets the noise model choose. Every pair of
    an image shares one clean array.
    """
    if draws < 1:
        raise UserError(f"the number of noisy versions per clean image must be at least 1, got {draws}")
    if not clean_images:
        raise UserError("no clean images were given to synthesize training pairs from")
    if len(names) != len(clean_images) or (levels is not None and len(levels) != len(clean_images)):
        raise UserError(
            f"got {len(clean_images)} clean images, {len(names)} names and "
            f"{'no' if levels is None else len(levels)} levels; give one name (and level) per image"
        )
    pairs = []
    for i, (name, image) in enumerate(zip(names, clean_images)):
        clean = np.ascontiguousarray(image, dtype=np.float32)
        batch = _to_tensor(clean).expand(draws, -1, -1, -1).contiguous()
        generators = [stream_generator(seed, name, d) for d in range(draws)]
        level = {} if levels is None else {"level": float(levels[i])}
        noisy = noise_source.sample(batch, generator=generators, **level).clamp(0.0, 1.0).cpu()
        pairs += [(clean, np.ascontiguousarray(noisy[d].permute(1, 2, 0).numpy())) for d in range(draws)]
    return pairs


def training_crops(
    mode: str, source_pairs: Sequence[PairLike], paired: Sequence[PairLike] = (), paired_fraction: float = 0.5
) -> CropSource:
    """The training crops of one of :data:`TRAINING_MODES`.

    ``source_pairs`` are the pairs made by the noise model under test (or, for the real noise,
    the real pairs in their place). "synthetic": crops of ``source_pairs`` alone.
    "synthetic+paired": ``1 - paired_fraction`` of each batch from ``source_pairs`` and the
    rest from the real ``paired`` pairs.
    """
    if mode not in TRAINING_MODES:
        raise UserError(f"unknown denoiser training mode {mode!r}; choose one of {', '.join(TRAINING_MODES)}")
    if mode == "synthetic":
        return PairCrops(source_pairs)
    if not 0.0 <= paired_fraction <= 1.0:
        raise UserError(f"paired_fraction must be within [0, 1], got {paired_fraction}")
    if not paired:
        raise UserError("the synthetic+paired training mode needs real paired images; none were given")
    return MixedCrops([(PairCrops(source_pairs), 1.0 - paired_fraction), (PairCrops(paired), paired_fraction)])
