"""Random streams that depend only on what they are named after.

Every synthesized image draws all its randomness (noise level, latent noise, crop position)
from one generator seeded by a stable hash of (run seed, image name, sample index), so an
output never depends on batch size, processing order or the number of processes. The hash
is BLAKE2b, not Python's ``hash``, which is salted per process.
"""

from __future__ import annotations

import hashlib

import torch

_SEED_MASK = (1 << 63) - 1


def stable_seed(*parts: object) -> int:
    """A 63-bit integer from the ``repr`` of ``parts``, identical in every process and run."""
    digest = hashlib.blake2b(repr(parts).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little") & _SEED_MASK


def stream_seed(seed: int, name: str, sample_index: int) -> int:
    """The seed of sample ``sample_index`` of the image called ``name`` in a run seeded ``seed``."""
    return stable_seed("senmvae-sample", int(seed), str(name), int(sample_index))


def stream_generator(seed: int, name: str, sample_index: int = 0) -> torch.Generator:
    """A CPU generator seeded by :func:`stream_seed`."""
    return torch.Generator().manual_seed(stream_seed(seed, name, sample_index))
