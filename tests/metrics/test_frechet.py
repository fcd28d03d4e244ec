import numpy as np
import pytest
import torch

from senmvae.metrics import (
    FeatureStatistics,
    MetricInputError,
    effnet_lite0_statistics,
    extract_features,
    fd_effnet_lite0,
    feature_statistics,
    frechet_distance,
)


def test_frechet_distance_of_diagonal_gaussians():
    a = FeatureStatistics(mean=np.array([0.0, 1.0, 2.0]), cov=np.diag([1.0, 4.0, 9.0]), count=10)
    b = FeatureStatistics(mean=np.array([1.0, 1.0, 0.0]), cov=np.diag([4.0, 4.0, 1.0]), count=10)
    # |mu_a - mu_b|^2 = 1 + 0 + 4; per dimension (sqrt(s_a) - sqrt(s_b))^2 = 1 + 0 + 4
    assert frechet_distance(a, b) == pytest.approx(10.0, abs=1e-9)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)


def test_frechet_distance_with_a_full_covariance():
    rotation = np.array([[np.cos(0.3), -np.sin(0.3)], [np.sin(0.3), np.cos(0.3)]])
    cov_b = rotation @ np.diag([9.0, 1.0]) @ rotation.T
    a = FeatureStatistics(mean=np.zeros(2), cov=np.eye(2), count=5)
    b = FeatureStatistics(mean=np.array([3.0, 4.0]), cov=cov_b, count=5)
    # with S_a = I: tr(I + S_b - 2 S_b^(1/2)) = sum over eigenvalues (1 - sqrt(l))^2 = 4 + 0
    assert frechet_distance(a, b) == pytest.approx(25.0 + 4.0, abs=1e-9)


def test_feature_statistics_and_distance_from_samples():
    rng = np.random.default_rng(0)
    feats = rng.standard_normal((4000, 3)) * [1.0, 2.0, 3.0] + [1.0, 0.0, -1.0]
    stats = feature_statistics(torch.from_numpy(feats))
    assert stats.count == 4000
    np.testing.assert_allclose(stats.mean, [1.0, 0.0, -1.0], atol=0.1)
    np.testing.assert_allclose(np.diag(stats.cov), [1.0, 4.0, 9.0], rtol=0.1)
    np.testing.assert_allclose(stats.cov, np.cov(feats, rowvar=False))
    shifted = feats + [2.0, 0.0, 0.0]
    assert frechet_distance(feats, shifted) == pytest.approx(4.0, abs=1e-6)


def test_singular_covariances_stay_finite(tmp_path):
    rng = np.random.default_rng(1)
    few_a, few_b = rng.standard_normal((3, 8)), rng.standard_normal((3, 8))  # rank-2 covariances in 8 dimensions
    assert np.isfinite(frechet_distance(few_a, few_b))
    stats = feature_statistics(few_a)
    stats.save(tmp_path / "stats.npz")
    loaded = FeatureStatistics.load(tmp_path / "stats.npz")
    np.testing.assert_array_equal(loaded.cov, stats.cov)
    assert loaded.count == 3


def test_frechet_inputs_are_checked(tmp_path):
    with pytest.raises(MetricInputError, match="N >= 2"):
        feature_statistics(np.zeros((1, 4)))
    with pytest.raises(MetricInputError, match="dimensions differ"):
        frechet_distance(np.eye(3), np.eye(4))
    (tmp_path / "bad.npz").write_bytes(b"not an npz")
    with pytest.raises(MetricInputError, match="bad.npz"):
        FeatureStatistics.load(tmp_path / "bad.npz")


def _smooth_images(seed: int, n: int = 6, size: int = 32) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    freq, phase = 1 + 3 * torch.rand((n, 3, 2, 1, 1), generator=g), 6.3 * torch.rand((n, 3, 1, 1), generator=g)
    return 0.5 + 0.3 * torch.sin(freq[:, :, 0] * 6.3 * xx + phase) * torch.cos(freq[:, :, 1] * 6.3 * yy)


def test_effnet_lite0_features_separate_clean_from_noisy_sets():
    clean, other_clean = _smooth_images(0), _smooth_images(1)
    noisy = (other_clean + 0.1 * torch.randn(other_clean.shape, generator=torch.Generator().manual_seed(2))).clamp(0, 1)
    stats = {
        name: effnet_lite0_statistics(images, batch_size=4)
        for name, images in (("clean", clean), ("other", other_clean), ("noisy", noisy))
    }
    assert stats["clean"].mean.shape == (1280,) and stats["clean"].count == 6
    to_other = np.linalg.norm(stats["clean"].mean - stats["other"].mean)
    to_noisy = np.linalg.norm(stats["clean"].mean - stats["noisy"].mean)
    assert to_noisy > 2 * to_other
    assert fd_effnet_lite0(stats["clean"], stats["noisy"]) > 0


def test_feature_extraction_accepts_images_of_different_sizes():
    images = _smooth_images(3, n=4)
    mixed = [images[0].numpy().transpose(1, 2, 0), images[1:3], images[3:, :, :24, :20]]
    net = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())  # features = channel means
    feats = extract_features(net, mixed, batch_size=8)
    np.testing.assert_allclose(
        feats, torch.cat([images[:3].mean(dim=(2, 3)), images[3:, :, :24, :20].mean(dim=(2, 3))]).numpy(), rtol=1e-6
    )
