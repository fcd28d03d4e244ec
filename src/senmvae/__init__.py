"""senmvae: semi-supervised camera noise modelling with a hierarchical VAE (SeNM-VAE)."""

from senmvae.domain import Domain
from senmvae.generate import NoiseModel
from senmvae.model import ModelConfig, SeNMVAE, load_model, load_official, save_model

__all__ = ["Domain", "ModelConfig", "NoiseModel", "SeNMVAE", "load_official", "load_model", "save_model"]
__version__ = "0.1.0"
