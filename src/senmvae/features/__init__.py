"""Pretrained feature networks: EfficientNet-Lite0 (weights from the package index), and the
FID Inception-v3 and LPIPS (AlexNet) networks, which load weight files the user supplies."""

from senmvae.features.efficientnet_lite0 import FEATURE_NAMES, EfficientNetLite0, load_efficientnet_lite0
from senmvae.features.inception import FIDInceptionV3, load_fid_inception
from senmvae.features.perceptual import LPIPS, DeepFeatureDistance, build_perceptual_loss
from senmvae.features.weights import WeightFileError

__all__ = [
    "FEATURE_NAMES",
    "LPIPS",
    "DeepFeatureDistance",
    "EfficientNetLite0",
    "FIDInceptionV3",
    "WeightFileError",
    "build_perceptual_loss",
    "load_efficientnet_lite0",
    "load_fid_inception",
]
