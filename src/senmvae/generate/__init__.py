"""Generation: turn clean images into realistic noisy ones with a trained SeNM-VAE.

:class:`NoiseModel` is the Python API (``NoiseModel.load(path).sample(clean, level=...)``),
the level policies choose each image's noise level, :class:`SyntheticPairs` makes
(noisy, clean) training crops on the fly, and ``senmvae synthesize`` turns a folder of clean
images into a folder of noisy ones (docs/generation.md).
"""

from senmvae.generate.base import NoiseSource
from senmvae.generate.dataset import SyntheticPairs
from senmvae.generate.levels import (
    ChoiceLevel,
    FixedLevel,
    LevelPolicy,
    SIDDPrior,
    UniformLevel,
    measure_level,
    parse_level,
)
from senmvae.generate.noise_model import NoiseModel
from senmvae.generate.seeding import stream_generator, stream_seed

__all__ = [
    "ChoiceLevel",
    "FixedLevel",
    "LevelPolicy",
    "NoiseModel",
    "NoiseSource",
    "SIDDPrior",
    "SyntheticPairs",
    "UniformLevel",
    "measure_level",
    "parse_level",
    "stream_generator",
    "stream_seed",
]
