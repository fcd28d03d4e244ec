import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from senmvae.config import ConfigError
from senmvae.downstream.sr import SecondOrderConfig, SecondOrderDegradation
from senmvae.downstream.sr.second_order import (
    BlurConfig,
    StageConfig,
    _Draws,
    add_noise,
    blur_kernel,
    filter2d,
    random_kernel,
    sinc_kernel,
)

CONFIGS = Path(__file__).resolve().parents[3] / "configs"


def test_the_yaml_config_holds_real_esrgans_values_and_rejects_unknown_keys(tmp_path):
    cfg = SecondOrderConfig.from_yaml(CONFIGS / "sr_second_order.yaml")
    assert cfg == SecondOrderConfig()
    assert cfg.first.blur.sigma == (0.2, 3.0) and cfg.second.blur.sigma == (0.2, 1.5)
    assert cfg.first.resize_probabilities == (0.2, 0.7, 0.1) and cfg.final_sinc_probability == 0.8
    (tmp_path / "bad.yaml").write_text("first:\n  blur:\n    sigmas: [1, 2]\n")
    with pytest.raises(ConfigError, match="sigmas"):
        SecondOrderConfig.from_yaml(tmp_path / "bad.yaml")
    with pytest.raises(ConfigError, match="resize_range"):
        StageConfig(resize_range=(1.5, 2.0))


def test_kernels_are_normalised_and_have_their_defining_shapes():
    iso = blur_kernel("iso", 11, 1.5, 1.5, 0.0, 1.0)
    r2 = np.add.outer(np.arange(-5, 6) ** 2, np.arange(-5, 6) ** 2)
    expected = np.exp(-r2 / (2 * 1.5**2))
    assert np.allclose(iso, expected / expected.sum())
    wide_x = blur_kernel("aniso", 11, 3.0, 1.0, 0.0, 1.0)
    assert np.allclose(blur_kernel("aniso", 11, 3.0, 1.0, math.pi / 2, 1.0), wide_x.T)
    assert wide_x[5, 0] > wide_x[0, 5]  # x is the column axis
    plateau = blur_kernel("plateau_iso", 11, 1.5, 1.5, 0.0, 2.0)
    assert np.allclose(plateau, 1 / (1 + (r2 / 1.5**2) ** 2) / (1 / (1 + (r2 / 1.5**2) ** 2)).sum())
    sinc = sinc_kernel(math.pi / 2, 13)
    assert sinc.sum() == pytest.approx(1.0) and (sinc < 0).any()  # ringing lobes
    draws = _Draws(torch.Generator().manual_seed(0))
    for _ in range(30):
        kernel = random_kernel(BlurConfig(), draws)
        assert kernel.shape[0] % 2 == 1 and 7 <= kernel.shape[0] <= 21 and kernel.sum() == pytest.approx(1.0)


def test_filtering_with_a_pulse_is_the_identity():
    image = torch.rand(1, 3, 9, 8, dtype=torch.float64)
    pulse = np.zeros((7, 7))
    pulse[3, 3] = 1.0
    assert torch.allclose(filter2d(image, pulse), image)


def test_gaussian_noise_has_the_drawn_std_and_gray_noise_is_the_same_in_every_channel():
    flat = torch.full((1, 3, 128, 128), 0.5, dtype=torch.float64)
    stage = StageConfig(gaussian_noise_probability=1.0, noise_sigma=(10.0, 10.0), gray_noise_probability=1.0)
    noisy = add_noise(flat, stage, _Draws(torch.Generator().manual_seed(0)))
    noise = noisy - flat
    assert float(noise.std()) == pytest.approx(10 / 255, rel=0.05)
    assert torch.equal(noise[:, 0], noise[:, 1]) and torch.equal(noise[:, 1], noise[:, 2])


def test_poisson_noise_follows_real_esrgans_counting_of_levels():
    # one grey value: 2 levels, noise = scale * (Poisson(0.5 * 2) / 2 - 0.5), std = scale * sqrt(0.5 / 2)
    flat = torch.full((1, 3, 128, 128), 0.5, dtype=torch.float64)
    stage = StageConfig(gaussian_noise_probability=0.0, poisson_scale=(0.1, 0.1), gray_noise_probability=0.0)
    noise = add_noise(flat, stage, _Draws(torch.Generator().manual_seed(1))) - flat
    assert float(noise.std()) == pytest.approx(0.1 * math.sqrt(0.25), rel=0.05)
    assert float(noise.mean()) == pytest.approx(0.0, abs=0.003)


def test_the_pipeline_makes_8bit_lr_images_reproducibly():
    hr = torch.rand(2, 3, 64, 48, generator=torch.Generator().manual_seed(0))
    pipeline = SecondOrderDegradation(scale=4)
    low = pipeline(hr, torch.Generator().manual_seed(3))
    assert low.shape == (2, 3, 16, 12)
    assert torch.equal(low, torch.round(low * 255) / 255) and low.min() >= 0 and low.max() <= 1
    assert torch.equal(low, pipeline(hr, torch.Generator().manual_seed(3)))
    assert not torch.equal(low, pipeline(hr, torch.Generator().manual_seed(4)))


def test_with_every_random_step_switched_off_it_is_a_plain_area_downsampling():
    quiet = StageConfig(
        blur_probability=0.0,
        resize_probabilities=(0.0, 0.0, 1.0),
        gaussian_noise_probability=1.0,
        noise_sigma=(0.0, 0.0),
        jpeg_quality=(100.0, 100.0),
    )
    cfg = SecondOrderConfig(first=quiet, second=quiet, final_sinc_probability=0.0, resize_modes=("area",))
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 64), torch.linspace(0, 1, 64), indexing="ij")
    hr = (0.2 + 0.3 * xx + 0.3 * yy).expand(1, 3, -1, -1)  # grey: JPEG's chroma subsampling changes nothing
    low = SecondOrderDegradation(cfg, scale=4)(hr, torch.Generator().manual_seed(0))
    assert (low - F.avg_pool2d(hr, 4)).abs().max() <= 3 / 255  # two JPEG round trips at quality 100
