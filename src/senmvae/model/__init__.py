"""The SeNM-VAE network, its configuration, and weight files (own and official)."""

from senmvae.model.config import MODEL_PRESETS, LevelPredictorConfig, ModelConfig, model_preset
from senmvae.model.distributions import DiagonalGaussian
from senmvae.model.io import load_model, save_model
from senmvae.model.network import NoiseLevelPredictor, SeNMVAE, TrainingOutput
from senmvae.model.official import load_official

__all__ = [
    "MODEL_PRESETS",
    "DiagonalGaussian",
    "LevelPredictorConfig",
    "ModelConfig",
    "NoiseLevelPredictor",
    "SeNMVAE",
    "TrainingOutput",
    "load_model",
    "load_official",
    "model_preset",
    "save_model",
]
