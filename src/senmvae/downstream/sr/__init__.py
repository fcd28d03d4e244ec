"""Downstream real-world super-resolution: an RRDB network trained on (LR, HR) pairs from any degradation model."""

from senmvae.downstream.sr.crops import RealSRCrops, SynthesizedSRCrops
from senmvae.downstream.sr.degradations import Bicubic, Degradation, NoiseOnBicubic, SecondOrder
from senmvae.downstream.sr.evaluate import evaluate_sr, fidelity_scores, luma, super_resolve
from senmvae.downstream.sr.rrdb import RRDBConfig, RRDBNet
from senmvae.downstream.sr.second_order import SecondOrderConfig, SecondOrderDegradation
from senmvae.downstream.sr.train import SRTrainConfig, train_sr

__all__ = [
    "Bicubic",
    "Degradation",
    "NoiseOnBicubic",
    "RRDBConfig",
    "RRDBNet",
    "RealSRCrops",
    "SRTrainConfig",
    "SecondOrder",
    "SecondOrderConfig",
    "SecondOrderDegradation",
    "SynthesizedSRCrops",
    "evaluate_sr",
    "fidelity_scores",
    "luma",
    "super_resolve",
    "train_sr",
]
