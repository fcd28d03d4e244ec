"""The downstream denoiser that judges noise models: DnCNN trained on synthesized pairs, scored on real ones."""

from senmvae.downstream.crops import MixedCrops, RealPairCrops, SynthesizedCrops, training_crops
from senmvae.downstream.dncnn import DnCNN, DnCNNConfig, parameter_count
from senmvae.downstream.evaluate import MIN_REAL_GAIN_DB, denoise_image, evaluate_denoiser
from senmvae.downstream.train import TrainingHistory, train_denoiser

__all__ = [
    "MIN_REAL_GAIN_DB",
    "DnCNN",
    "DnCNNConfig",
    "MixedCrops",
    "RealPairCrops",
    "SynthesizedCrops",
    "TrainingHistory",
    "denoise_image",
    "evaluate_denoiser",
    "parameter_count",
    "train_denoiser",
    "training_crops",
]
