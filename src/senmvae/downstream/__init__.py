"""The downstream denoiser that judges noise models: DnCNN trained on synthesized pairs, scored on real ones."""

from senmvae.downstream.crops import TRAINING_MODES, MixedCrops, PairCrops, synthesize_pairs, training_crops
from senmvae.downstream.dncnn import DnCNN, DnCNNConfig, parameter_count
from senmvae.downstream.evaluate import MIN_REAL_GAIN_DB, denoise_image, evaluate_denoiser, seed_spread
from senmvae.downstream.train import TrainingHistory, affordable_steps, train_denoiser

__all__ = [
    "MIN_REAL_GAIN_DB",
    "TRAINING_MODES",
    "DnCNN",
    "DnCNNConfig",
    "MixedCrops",
    "PairCrops",
    "TrainingHistory",
    "affordable_steps",
    "denoise_image",
    "evaluate_denoiser",
    "parameter_count",
    "seed_spread",
    "synthesize_pairs",
    "train_denoiser",
    "training_crops",
]
