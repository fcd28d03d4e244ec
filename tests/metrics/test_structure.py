import numpy as np
import pytest
import torch

from senmvae.metrics import (
    MetricInputError,
    compare_structure,
    noise_structure,
    spectrum_distance,
    structure_metrics,
)


def _pairs(noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(noisy, clean) whose difference is ``noise`` (B, 3, H, W), on a mid-grey clean image."""
    clean = torch.full_like(noise, 0.5)
    return clean + noise, clean


def _white(batch: int, size: int, seed: int) -> torch.Tensor:
    return torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_white_noise_is_uncorrelated_flat_and_without_grid():
    structure = noise_structure(*_pairs(0.05 * _white(4, 128, 0)))
    assert structure.horizontal[:, 0] == pytest.approx(1.0)
    # 4 x 128 x 128 pixels per channel: the standard error of a correlation is about 0.004
    assert np.abs(structure.horizontal[:, 1:]).max() < 0.02
    assert np.abs(structure.vertical[:, 1:]).max() < 0.02
    assert abs(structure.lag1) < 0.01 and abs(structure.lag2) < 0.01
    assert np.abs(structure.channel_correlation).max() < 0.02
    assert structure.spectrum.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(structure.spectrum, 1 / 16, rtol=0.15)
    # rows and columns at +-1/4 and 1/2 cycles/pixel: 6 lines of 128 bins, 9 bins counted twice
    assert structure.grid_share == pytest.approx((6 * 128 - 9) / 128**2, rel=0.05)
    # one exponential(1) periodogram value per image and channel, pooled over 12: within about 3 sigma
    assert 0.2 < structure.checkerboard_ratio < 2.0


def test_box_filtered_noise_has_the_triangular_autocorrelation():
    # white noise summed over a horizontal run of 3 pixels: correlation (3 - d) / 3 at lag d < 3, 0 beyond;
    # vertically still white
    white = _white(4, 130, 1)
    boxed = (white[..., :-2] + white[..., 1:-1] + white[..., 2:])[..., :128, :]
    structure = noise_structure(*_pairs(0.02 * boxed))
    np.testing.assert_allclose(structure.horizontal[:, 1], 2 / 3, atol=0.02)
    np.testing.assert_allclose(structure.horizontal[:, 2], 1 / 3, atol=0.02)
    np.testing.assert_allclose(structure.horizontal[:, 3:], 0.0, atol=0.02)
    np.testing.assert_allclose(structure.vertical[:, 1:], 0.0, atol=0.02)
    assert structure.lag1 == pytest.approx((2 / 3 + 0) / 2, abs=0.01)
    # the spectrum of a 3-tap box, |sin(3 pi f) / sin(pi f)|^2 / 3 along x, falls with frequency
    assert structure.spectrum[0] > 3 * structure.spectrum[-1]


def test_mixed_channels_have_the_correlation_of_the_mixing_matrix():
    mixing = torch.tensor([[1.0, 0.0, 0.0], [0.8, 0.6, 0.0], [0.3, -0.4, 0.5]], dtype=torch.float64)
    covariance = mixing @ mixing.T
    expected = [covariance[i, j] / torch.sqrt(covariance[i, i] * covariance[j, j]) for i, j in ((0, 1), (0, 2), (1, 2))]
    mixed = torch.einsum("ij,bjhw->bihw", mixing, _white(4, 128, 2))
    structure = noise_structure(*_pairs(0.03 * mixed))
    np.testing.assert_allclose(structure.channel_correlation, np.array(expected), atol=0.02)
    assert structure.channels == pytest.approx(float(np.mean(expected)), abs=0.01)
    assert abs(structure.lag1) < 0.02


def test_a_pure_checkerboard_is_all_grid_and_peaks_by_the_number_of_pixels():
    # A (-1)^(x+y): all its energy is at (1/2, 1/2); the periodogram there is A^2 H W, the mean power A^2
    size = 32
    signs = (-1.0) ** (torch.arange(size)[:, None] + torch.arange(size)[None, :])
    noise = (0.01 * signs).expand(2, 3, size, size).to(torch.float64)
    structure = noise_structure(*_pairs(noise))
    assert structure.grid_share == pytest.approx(1.0)
    assert structure.checkerboard_ratio == pytest.approx(size * size)
    np.testing.assert_allclose(structure.horizontal[:, 1], -1.0)
    np.testing.assert_allclose(structure.horizontal[:, 2], 1.0)


def test_a_checkerboard_over_white_noise_shows_by_hand():
    # white noise of variance s^2 plus a checkerboard of amplitude A, expected over the white draw:
    # grid energy A^2 + s^2 * (6 N - 9) / N^2 of a total A^2 + s^2, checkerboard bin power A^2 N^2 + s^2
    size, s, amplitude = 128, 0.02, 0.01
    signs = (-1.0) ** (torch.arange(size)[:, None] + torch.arange(size)[None, :])
    structure = noise_structure(*_pairs(s * _white(4, size, 3) + amplitude * signs))
    share = (amplitude**2 + s**2 * (6 * size - 9) / size**2) / (amplitude**2 + s**2)
    ratio = (amplitude**2 * size**2 + s**2) / (amplitude**2 + s**2)
    assert structure.grid_share == pytest.approx(share, rel=0.03)
    assert structure.checkerboard_ratio == pytest.approx(ratio, rel=0.03)


def test_spectrum_distance_is_the_mean_absolute_log_ratio():
    a = np.array([0.5, 0.25, 0.25])
    b = np.array([0.25, 0.25, 0.5])
    assert spectrum_distance(a, b) == pytest.approx(2 * np.log(2) / 3)
    assert spectrum_distance(a, a) == 0.0
    assert spectrum_distance(np.array([np.nan, 0.5, 0.5]), np.array([0.2, 0.4, 0.4])) == pytest.approx(np.log(1.25))
    with pytest.raises(MetricInputError, match="same rings"):
        spectrum_distance(a, np.ones(4) / 4)


def test_comparison_row_holds_both_sides_and_the_distance():
    white = 0.02 * _white(2, 64, 4)
    boxed = 0.02 * (white[..., :-1] + white[..., 1:])[..., :64, :]
    clean = torch.full((2, 3, 64, 63), 0.5, dtype=torch.float64)
    row = structure_metrics(clean + white[..., :63], clean + boxed[..., :63], clean)
    real = noise_structure(clean + boxed[..., :63], clean)
    assert row["lag1_real"] == pytest.approx(real.lag1)
    assert row["lag1"] < 0.05 < 0.2 < row["lag1_real"]
    assert row["spectrum_distance"] > 0.1
    assert set(compare_structure(real, real, include_real=False)) == {
        "lag1",
        "lag2",
        "channels",
        "grid_share",
        "checkerboard_ratio",
        "spectrum_distance",
    }
    assert compare_structure(real, real)["spectrum_distance"] == 0.0


def test_images_of_any_size_pool_tiny_ones_are_refused_and_no_noise_gives_nan():
    sets = [0.02 * _white(1, 64, 5)[0].permute(1, 2, 0).numpy(), 0.02 * _white(1, 36, 6)[0].permute(1, 2, 0).numpy()]
    clean = [np.full(n.shape, 0.5) for n in sets]
    structure = noise_structure([c + n for c, n in zip(clean, sets)], clean)
    assert np.isfinite(structure.spectrum).all()
    with pytest.raises(MetricInputError, match="at least 8 pixels"):
        noise_structure(np.zeros((6, 40, 3)), np.zeros((6, 40, 3)))
    silent = noise_structure(np.full((16, 16, 3), 0.5), np.full((16, 16, 3), 0.5))
    assert np.isnan(silent.lag1) and np.isnan(silent.spectrum).all() and np.isnan(silent.grid_share)
