import pytest
import torch

from senmvae.baselines import AWGN
from senmvae.evaluation.fidelity import EvalSet, fidelity, synthesize_at_true_levels


def _pairs(n=4, size=48):
    g = torch.Generator().manual_seed(0)
    clean = torch.round((torch.rand(n, 3, size, size, generator=g) * 0.6 + 0.2) * 255) / 255
    stds = torch.linspace(0.01, 0.04, n).view(-1, 1, 1, 1)
    noisy = torch.round((clean + stds * torch.randn(clean.shape, generator=g)).clamp(0, 1) * 255) / 255
    return EvalSet([f"img{i}" for i in range(n)], clean, noisy)


def test_the_real_noise_is_its_own_perfect_match():
    pairs = _pairs()
    values = fidelity(pairs.noisy, pairs)
    assert values["kl_noise"] == pytest.approx(0.0, abs=1e-9) and values["akld"] == pytest.approx(0.0, abs=1e-9)
    assert values["level_ratio_median"] == pytest.approx(1.0) and values["level_within_15pct"] == 1.0
    assert values["noise_std_8bit"] == pytest.approx(values["real_std_8bit"])
    assert values["lag1"] == pytest.approx(values["lag1_real"]) and values["channels"] == values["channels_real"]
    assert values["spectrum_distance"] == 0.0


def test_structure_columns_tell_correlated_noise_from_white():
    pairs = _pairs(size=64)
    white = pairs.noisy - pairs.clean
    smoothed = pairs.clean + (white + white.roll(1, dims=-1) + white.roll(1, dims=-2)) / 3**0.5
    values = fidelity(smoothed, pairs)
    # white noise summed with its two neighbours: lag-1 correlation 1/3 along either axis, 0 in real
    assert values["lag1"] == pytest.approx(1 / 3, abs=0.05) and abs(values["lag1_real"]) < 0.05
    assert values["spectrum_distance"] > 0.1


def test_a_gaussian_at_each_true_level_follows_the_level():
    pairs = _pairs()
    synthetic = synthesize_at_true_levels(AWGN(std=0.02, clip=False), pairs)
    values = fidelity(synthetic, pairs)
    assert values["level_within_15pct"] == 1.0 and values["level_correlation"] > 0.95
    doubled = fidelity(pairs.clean + 2 * (synthetic - pairs.clean), pairs)
    assert doubled["level_ratio_median"] == pytest.approx(2.0, rel=0.1) and doubled["level_within_15pct"] == 0.0
