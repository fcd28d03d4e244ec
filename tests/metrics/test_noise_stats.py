import numpy as np
import pytest
import torch

from senmvae.metrics import MetricInputError, noise_level_function, noise_placement, noise_power_spectrum
from senmvae.metrics.noise_stats import LUMA_WEIGHTS


def _ramp(shape=(3, 96, 96)) -> torch.Tensor:
    """Clean images whose intensity sweeps 0.05..0.95 along the width, the same in every channel."""
    ramp = torch.linspace(0.05, 0.95, shape[-1], dtype=torch.float64)
    return ramp.expand(*shape).clone()


def test_nlf_recovers_poisson_gaussian_variance():
    a, b = 0.01, 1e-4  # variance a x + b
    g = torch.Generator().manual_seed(0)
    clean = torch.stack([_ramp() for _ in range(8)])  # ~9000 pixels per bin and channel: 1.5% sampling error
    noisy = clean + torch.sqrt(a * clean + b) * torch.randn(clean.shape, generator=g, dtype=torch.float64)
    nlf = noise_level_function(noisy, clean, bins=8)
    assert nlf.std.shape == nlf.intensity.shape == nlf.counts.shape == (3, 8)
    assert nlf.counts.sum() == clean.numel()
    filled = nlf.counts > 0
    np.testing.assert_allclose(nlf.std[filled] ** 2, a * nlf.intensity[filled] + b, rtol=0.06)
    np.testing.assert_allclose(nlf.mean[filled], 0.0, atol=3e-3)
    # a straight-line fit of variance against intensity gives back a and b
    slope, intercept = np.polyfit(nlf.intensity[filled], nlf.std[filled] ** 2, 1)
    assert slope == pytest.approx(a, rel=0.05)
    assert intercept == pytest.approx(b, abs=2e-4)


def test_nlf_bins_per_channel_and_marks_empty_bins():
    clean = np.zeros((4, 4, 3), dtype=np.float32)
    clean[..., 0] = 0.1  # red in bin 0 of 4, green and blue at 0.9 in bin 3
    clean[..., 1:] = 0.9
    noisy = clean.copy()
    noisy[::2, :, :] += 0.1
    noisy[1::2, :, :] -= 0.1  # noise +-0.1: std 0.1, mean 0
    nlf = noise_level_function(noisy, clean, bins=4)
    assert nlf.counts.tolist() == [[16, 0, 0, 0], [0, 0, 0, 16], [0, 0, 0, 16]]
    assert nlf.std[0, 0] == pytest.approx(0.1, abs=1e-6)
    assert nlf.std[1, 3] == pytest.approx(0.1, abs=1e-6)
    assert np.isnan(nlf.std[0, 1]) and np.isnan(nlf.intensity[1, 0])
    np.testing.assert_allclose(nlf.bin_edges, [0, 0.25, 0.5, 0.75, 1.0])


def test_nps_of_white_noise_is_flat_at_its_variance():
    variance = 0.02**2
    g = torch.Generator().manual_seed(1)
    clean = torch.full((6, 3, 64, 64), 0.5, dtype=torch.float64)
    noisy = clean + variance**0.5 * torch.randn(clean.shape, generator=g, dtype=torch.float64)
    nps = noise_power_spectrum(noisy, clean, bins=8)
    assert nps.power.shape == (3, 8)
    assert nps.frequency[0] == pytest.approx(0.5 / 16) and nps.frequency[-1] == pytest.approx(0.5 - 0.5 / 16)
    np.testing.assert_allclose(nps.power[:, 1:], variance, rtol=0.15)
    assert nps.power.mean() == pytest.approx(variance, rel=0.05)
    luma = noise_power_spectrum(noisy, clean, bins=8, luminance=True)
    assert luma.power.shape == (1, 8)
    assert luma.power.mean() == pytest.approx(variance * sum(w * w for w in LUMA_WEIGHTS), rel=0.05)


def test_nps_shows_low_pass_noise_as_falling_power():
    g = torch.Generator().manual_seed(2)
    white = torch.randn((4, 3, 64, 64), generator=g, dtype=torch.float64)
    blurred = (
        white + white.roll(1, -1) + white.roll(1, -2) + white.roll((1, 1), (-2, -1))
    ) / 4  # 2x2 box: variance 1/4
    clean = torch.zeros_like(white)
    nps = noise_power_spectrum(blurred, clean, bins=8)
    power = nps.power.mean(axis=0)
    assert power[0] > 3 * power[-1]
    assert np.all(np.diff(power) < 0)


def test_noise_statistics_accept_sets_of_different_sizes():
    pairs = [
        (np.full((h, w, 3), 0.5, np.float32), np.full((h, w, 3), 0.5, np.float32)) for h, w in ((16, 16), (20, 24))
    ]
    nps = noise_power_spectrum([p[0] for p in pairs], [p[1] for p in pairs], bins=4)
    assert np.all(nps.power == 0)
    with pytest.raises(MetricInputError, match="differ in length"):
        noise_level_function([pairs[0][0]], [p[1] for p in pairs])


def test_placement_finds_noise_that_is_stronger_on_texture_and_in_the_dark():
    g = torch.Generator().manual_seed(0)
    clean = 0.4 + 0.2 * torch.rand(2, 3, 64, 64, generator=g)
    clean[..., :, 32:] = torch.rand(2, 3, 64, 32, generator=g)  # right half: textured
    noise = 0.01 * torch.randn(2, 3, 64, 64, generator=g)
    noise[..., :, 32:] *= 3
    placement = noise_placement(clean + noise, clean)
    # flattest two fifths are the left half (std 0.01), the two with most contrast the right (0.03)
    np.testing.assert_allclose(placement.by_contrast[:2], 0.01, rtol=0.05)
    np.testing.assert_allclose(placement.by_contrast[3:], 0.03, rtol=0.05)

    ramp = torch.linspace(0.05, 0.95, 64).view(1, 1, 1, 64).expand(1, 3, 64, 64)
    dark_noise = 0.02 * (1.0 - ramp) * torch.randn(1, 3, 64, 64, generator=g)
    by_brightness = noise_placement(ramp + dark_noise, ramp).by_brightness
    assert np.all(np.diff(by_brightness) < 0)  # darkest fifth noisiest
    expected = [
        0.02 * float((1.0 - ramp[0, 0, 0, i * 64 // 5 : (i + 1) * 64 // 5]).pow(2).mean().sqrt()) for i in range(5)
    ]
    np.testing.assert_allclose(by_brightness, expected, rtol=0.1)


def test_placement_takes_the_noise_about_its_mean_and_checks_its_groups():
    g = torch.Generator().manual_seed(1)
    clean = torch.rand(1, 3, 40, 48, generator=g)
    a = clean + 0.02 * torch.randn(1, 3, 40, 48, generator=g)
    constant = clean + 0.05  # a constant offset: no noise about the image's mean
    assert np.allclose(noise_placement(constant, clean).by_contrast, 0.0, atol=1e-6)
    assert noise_placement(a, clean, groups=3).by_contrast.shape == (3,)
    with pytest.raises(MetricInputError):
        noise_placement(a, clean, groups=0)
