"""Baseline noise models behind the :class:`~senmvae.generate.base.NoiseSource` interface."""

from senmvae.baselines.base import BaselineNoiseModel
from senmvae.baselines.colored import ColoredHeteroscedasticGaussian
from senmvae.baselines.gaussian import AWGN, HeteroscedasticGaussian
from senmvae.baselines.io import BASELINES, baseline_from_dict, load_baseline
from senmvae.baselines.oracle import RealNoiseOracle
from senmvae.baselines.pairs import load_pair, load_pairs

__all__ = [
    "AWGN",
    "BASELINES",
    "BaselineNoiseModel",
    "ColoredHeteroscedasticGaussian",
    "HeteroscedasticGaussian",
    "RealNoiseOracle",
    "baseline_from_dict",
    "load_baseline",
    "load_pair",
    "load_pairs",
]
