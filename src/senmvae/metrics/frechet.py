"""Frechet distances between Gaussians fitted to deep features of two image sets (lower is better).

* ``fd_effnet_lite0`` -- on the 1280-d pooled head features of EfficientNet-Lite0, whose ImageNet
  weights install with the package index; computed at each image's own resolution. This is
  **not** FID and is not comparable to published FID numbers; compare it only between
  models evaluated the same way.
* ``fid_inception`` -- the standard FID: pool3 features of the TF-Inception-v3 used by
  pytorch-fid and the original TensorFlow code, on images resized to 299x299. It needs the
  user's copy of the ``pt_inception-2015-12-05-*.pth`` weights; with them it is comparable to
  published FID computed with the same protocol (e.g. SeNM-VAE Table 1 on SIDD validation).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.linalg
import torch

from senmvae.metrics.images import ImageSet, MetricInputError, iter_images
from senmvae.progress import progress_bar


@dataclass(frozen=True)
class FeatureStatistics:
    """Mean (D,) and covariance (D, D) of N feature vectors (covariance with N - 1 in the denominator)."""

    mean: np.ndarray
    cov: np.ndarray
    count: int

    def save(self, path: str | Path) -> None:
        np.savez(path, mu=self.mean, sigma=self.cov, count=self.count)

    @classmethod
    def load(cls, path: str | Path) -> FeatureStatistics:
        try:
            with np.load(path) as data:
                return cls(mean=data["mu"], cov=data["sigma"], count=int(data["count"]) if "count" in data else -1)
        except (OSError, KeyError, ValueError) as err:
            raise MetricInputError(f"{path}: not a feature-statistics file with 'mu' and 'sigma' ({err})") from None


def feature_statistics(features: np.ndarray | torch.Tensor) -> FeatureStatistics:
    """Gaussian fit of (N, D) features, N >= 2."""
    feats = features.detach().cpu().numpy() if isinstance(features, torch.Tensor) else np.asarray(features)
    if feats.ndim != 2 or feats.shape[0] < 2:
        raise MetricInputError(f"feature statistics need (N, D) features with N >= 2, got shape {feats.shape}")
    feats = feats.astype(np.float64)
    return FeatureStatistics(mean=feats.mean(axis=0), cov=np.cov(feats, rowvar=False), count=feats.shape[0])


def frechet_distance(
    a: FeatureStatistics | np.ndarray | torch.Tensor,
    b: FeatureStatistics | np.ndarray | torch.Tensor,
    eps: float = 1e-6,
) -> float:
    """||mu_a - mu_b||^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2)), from statistics or raw (N, D) features.

    The matrix square root is scipy's ``sqrtm``. When the product is singular enough for the
    root to be non-finite, ``eps`` is added to both diagonals; a tiny imaginary part left by
    numerical error is dropped, a large one is an error (the covariances are not valid).
    """
    sa = a if isinstance(a, FeatureStatistics) else feature_statistics(a)
    sb = b if isinstance(b, FeatureStatistics) else feature_statistics(b)
    if sa.mean.shape != sb.mean.shape:
        raise MetricInputError(f"feature dimensions differ: {sa.mean.shape[0]} and {sb.mean.shape[0]}")
    diff = sa.mean - sb.mean
    with warnings.catch_warnings():  # singular products are expected with few samples; handled below
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        covmean = scipy.linalg.sqrtm(sa.cov @ sb.cov)
        if not np.isfinite(covmean).all():
            offset = np.eye(sa.cov.shape[0]) * eps
            covmean = scipy.linalg.sqrtm((sa.cov + offset) @ (sb.cov + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise MetricInputError(f"matrix square root has a large imaginary part ({np.abs(covmean.imag).max():.3g})")
        covmean = covmean.real
    return float(diff @ diff + np.trace(sa.cov) + np.trace(sb.cov) - 2.0 * np.trace(covmean))


def extract_features(
    net: torch.nn.Module,
    images: ImageSet,
    batch_size: int = 16,
    device: str | torch.device = "cpu",
    progress: bool = False,
    desc: str = "features",
) -> np.ndarray:
    """(N, D) features of every image: ``net`` maps a (B, 3, H, W) batch in [0, 1] to (B, D).

    Consecutive images of one size are batched together; images of other sizes start a new batch.
    """
    net = net.to(device)
    chunks: list[np.ndarray] = []
    pending: list[torch.Tensor] = []

    def flush() -> None:
        if pending:
            with torch.no_grad():
                chunks.append(net(torch.cat(pending).to(device, torch.float32)).double().cpu().numpy())
            pending.clear()

    for image in progress_bar(iter_images(images), desc=desc, unit="img", disable=not progress):
        if pending and (image.shape != pending[0].shape or len(pending) >= batch_size):
            flush()
        pending.append(image)
    flush()
    if not chunks:
        raise MetricInputError("no images to extract features from")
    return np.concatenate(chunks)


class _PooledEffNet(torch.nn.Module):
    def __init__(self, net: torch.nn.Module):
        super().__init__()
        self.net = net

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net.pooled(images)


def effnet_lite0_statistics(
    images: ImageSet, batch_size: int = 16, device: str | torch.device = "cpu", progress: bool = False
) -> FeatureStatistics:
    from senmvae.features.efficientnet_lite0 import load_efficientnet_lite0

    net = _PooledEffNet(load_efficientnet_lite0())
    return feature_statistics(extract_features(net, images, batch_size, device, progress, desc="EfficientNet-Lite0"))


def fd_effnet_lite0(
    synthetic: ImageSet | FeatureStatistics,
    real: ImageSet | FeatureStatistics,
    batch_size: int = 16,
    device: str | torch.device = "cpu",
    progress: bool = False,
) -> float:
    """Frechet distance on EfficientNet-Lite0 pooled features (reported as ``fd_effnet_lite0``; not FID)."""
    stats = [
        s if isinstance(s, FeatureStatistics) else effnet_lite0_statistics(s, batch_size, device, progress)
        for s in (synthetic, real)
    ]
    return frechet_distance(*stats)


def inception_statistics(
    images: ImageSet,
    weights_path: str | Path,
    batch_size: int = 16,
    device: str | torch.device = "cpu",
    progress: bool = False,
) -> FeatureStatistics:
    from senmvae.features.inception import load_fid_inception

    net = load_fid_inception(weights_path)
    return feature_statistics(extract_features(net, images, batch_size, device, progress, desc="Inception-v3"))


def fid_inception(
    synthetic: ImageSet | FeatureStatistics,
    real: ImageSet | FeatureStatistics,
    weights_path: str | Path,
    batch_size: int = 16,
    device: str | torch.device = "cpu",
    progress: bool = False,
) -> float:
    """Standard FID (``fid_inception``) from the user's pytorch-fid Inception weights file."""
    stats = [
        s if isinstance(s, FeatureStatistics) else inception_statistics(s, weights_path, batch_size, device, progress)
        for s in (synthetic, real)
    ]
    return frechet_distance(*stats)
