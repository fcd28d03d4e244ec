"""Image-fidelity and noise-realism metrics; docs/metrics.md gives each definition and what it compares to.

Images are numpy (H, W, 3) float in [0, 1] or torch (B, 3, H, W); sets of images are batches or
sequences. :data:`METRICS` lists the reported names with their direction.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from senmvae.metrics.fidelity import psnr, ssim
from senmvae.metrics.frechet import (
    FeatureStatistics,
    effnet_lite0_statistics,
    extract_features,
    fd_effnet_lite0,
    feature_statistics,
    fid_inception,
    frechet_distance,
    inception_statistics,
)
from senmvae.metrics.images import ImageLike, MetricInputError, as_batches
from senmvae.metrics.kl import (
    NOISE_HISTOGRAM_CONVENTIONS,
    akld_danet,
    akld_reverse,
    kl_intensity_histogram_senmvae,
    kl_noise_histogram,
    local_noise_variance,
)
from senmvae.metrics.noise_stats import (
    NoiseLevelFunction,
    NoisePlacement,
    NoisePowerSpectrum,
    noise_level_function,
    noise_placement,
    noise_power_spectrum,
)
from senmvae.metrics.structure import (
    NoiseStructure,
    compare_structure,
    noise_structure,
    spectrum_distance,
    structure_metrics,
)


@dataclass(frozen=True)
class MetricInfo:
    name: str
    higher_is_better: bool
    comparable_to: str


METRICS = {
    m.name: m
    for m in (
        MetricInfo(
            "psnr", True, "denoising PSNR on the same test set, RGB, data range 1 (8-bit quantised if so stated)"
        ),
        MetricInfo("ssim", True, "skimage/MATLAB Gaussian-window SSIM averaged over RGB channels"),
        MetricInfo("psnr_synthetic", True, "the paper's Table 1 PSNR: denoiser trained on synthetic pairs only"),
        MetricInfo("ssim_synthetic", True, "the paper's Table 1 SSIM: denoiser trained on synthetic pairs only"),
        MetricInfo("psnr_synthetic_paired", True, "the paper's Table 2 PSNR: synthetic plus real paired images"),
        MetricInfo("ssim_synthetic_paired", True, "the paper's Table 2 SSIM: synthetic plus real paired images"),
        MetricInfo("kl_intensity_senmvae", False, "SeNM-VAE Table 1 'KLD' (official compute_kl.py)"),
        MetricInfo("kl_noise_neca", False, "NeCA's KLD (noise histograms, official NeCA code)"),
        MetricInfo("kl_noise_noise_flow_srgb", False, "sRGB Noise Flow's marginal KL (Kousha et al. 2022)"),
        MetricInfo("akld_danet", False, "DANet / C2N / NeCA 'AKLD' (KL(synthetic || real) of local variances)"),
        MetricInfo("akld_reverse", False, "nothing published; KL(real || synthetic) of the same local variances"),
        MetricInfo("fd_effnet_lite0", False, "only other runs of this project (not FID)"),
        MetricInfo(
            "fid_inception", False, "published FID with the pytorch-fid / TF Inception protocol on the same sets"
        ),
        MetricInfo("lpips_alex", False, "LPIPS v0.1 AlexNet numbers"),
        MetricInfo(
            "spectrum_distance", False, "only other runs of this project (16 normalised rings, mean |log ratio|)"
        ),
    )
}


def lpips_alex(
    images: ImageLike,
    reference: ImageLike,
    backbone_path: str | Path,
    linear_path: str | Path,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """LPIPS v0.1 (AlexNet) per image from the user's AlexNet and ``alex.pth`` weight files; lower is better."""
    from senmvae.features.perceptual import LPIPS

    a, b = as_batches(images, reference, names=("images", "reference"), dtype=torch.float32)
    net = LPIPS.from_files(backbone_path, linear_path).to(device)
    with torch.no_grad():
        return net(a.to(device), b.to(device)).cpu()


__all__ = [
    "METRICS",
    "NOISE_HISTOGRAM_CONVENTIONS",
    "FeatureStatistics",
    "MetricInfo",
    "MetricInputError",
    "NoiseLevelFunction",
    "NoisePlacement",
    "NoisePowerSpectrum",
    "NoiseStructure",
    "akld_danet",
    "akld_reverse",
    "compare_structure",
    "effnet_lite0_statistics",
    "extract_features",
    "fd_effnet_lite0",
    "feature_statistics",
    "fid_inception",
    "frechet_distance",
    "inception_statistics",
    "kl_intensity_histogram_senmvae",
    "kl_noise_histogram",
    "local_noise_variance",
    "lpips_alex",
    "noise_level_function",
    "noise_placement",
    "noise_power_spectrum",
    "noise_structure",
    "psnr",
    "spectrum_distance",
    "ssim",
    "structure_metrics",
]
