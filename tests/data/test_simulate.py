"""The camera noise simulator: closed-form checks of each stage and of the noise model."""

from __future__ import annotations

import numpy as np
import pytest

from senmvae.data.simulate import (
    PRESETS,
    Development,
    develop,
    jpeg_roundtrip,
    linear_to_srgb,
    random_development,
    shot_read_noise,
    simulate_pair,
    srgb_to_camera_matrix,
    srgb_to_linear,
    unprocess,
)
from senmvae.errors import UserError
from tests.data import builders

M3_ISO3200 = PRESETS["canon-eos-m3-iso3200"]


def test_srgb_transfer_functions_are_inverse_and_hit_the_standard_points():
    x = np.linspace(0, 1, 1001)
    assert np.allclose(linear_to_srgb(srgb_to_linear(x)), x, atol=1e-9)
    assert srgb_to_linear(np.array([0.5]))[0] == pytest.approx(0.214041, abs=1e-6)
    assert srgb_to_linear(np.array([0.04045]))[0] == pytest.approx(0.04045 / 12.92)


def test_colour_matrices_keep_white_white():
    for preset in PRESETS.values():
        matrix = srgb_to_camera_matrix(preset.xyz_to_camera)
        assert np.allclose(matrix.sum(axis=1), 1.0)
        assert np.allclose(preset.camera_to_srgb @ np.ones(3), 1.0)


def test_the_noiseless_pipeline_returns_flat_colours_exactly():
    development = Development(M3_ISO3200, (2.1, 1.0, 1.7))
    for colour in ([0.5, 0.5, 0.5], [0.5, 0.3, 0.2], [0.1, 0.6, 0.9]):
        flat = np.full((24, 24, 3), colour)
        out = develop(unprocess(flat, development), development)
        assert np.allclose(out[4:-4, 4:-4], flat[4:-4, 4:-4], atol=1e-5)


def test_the_mosaic_is_rggb_after_inverse_white_balance():
    development = Development(M3_ISO3200, (2.0, 1.0, 1.6))
    gray = np.full((4, 4, 3), 0.5)
    mosaic = unprocess(gray, development)
    level = srgb_to_linear(np.array(0.5))
    assert mosaic[0, 0] == pytest.approx(level / 2.0)  # red site
    assert mosaic[0, 1] == pytest.approx(level) and mosaic[1, 0] == pytest.approx(level)  # green
    assert mosaic[1, 1] == pytest.approx(level / 1.6)  # blue


def test_shot_and_read_noise_has_variance_a_x_plus_b_per_channel():
    rng = np.random.default_rng(0)
    a, b = (4e-4, 1e-4, 2e-4), (1e-5, 2e-6, 5e-6)
    for level in (0.05, 0.4):
        mosaic = np.full((400, 400), level)
        noise = shot_read_noise(mosaic, a, b, rng) - mosaic
        sites = {"r": noise[0::2, 0::2], "g": noise[0::2, 1::2], "b": noise[1::2, 1::2]}
        for c, values in zip("rgb", sites.values()):
            i = "rgb".index(c)
            assert values.var() == pytest.approx(a[i] * level + b[i], rel=0.05)
            assert abs(values.mean()) < 4 * np.sqrt((a[i] * level + b[i]) / values.size)


def test_noise_grows_with_iso_and_the_clean_image_is_the_noiseless_pipeline():
    image = builders.image(3, 64, 64)
    stds = []
    for name in ("canon-eos-m3-iso800", "canon-eos-m3-iso3200", "canon-eos-m3-iso12800"):
        development = Development(PRESETS[name], (2.0, 1.0, 1.7))
        clean, noisy = simulate_pair(image, development, np.random.default_rng(1))
        assert np.array_equal(clean, develop(unprocess(image, development), development))
        stds.append(float(np.std(noisy - clean)))
    assert stds[0] < stds[1] < stds[2]
    assert 0.5 / 255 < stds[0] and stds[2] < 20 / 255


def test_simulation_is_deterministic_given_the_generator():
    image = builders.image(4, 32, 32)
    runs = []
    for _ in range(2):
        rng = np.random.default_rng(9)
        development = random_development(PRESETS["canon-powershot-s110-iso6400"], rng, jpeg_quality=90)
        runs.append(simulate_pair(image, development, rng))
    assert all(np.array_equal(x, y) for x, y in zip(*runs))
    red, _, blue = development.wb_gains
    assert 1.9 <= red <= 2.4 and 1.5 <= blue <= 1.9


def test_jpeg_stage_quantises_to_8_bits_and_lowers_fidelity_with_quality():
    image = builders.image(6, 64, 64) + np.random.default_rng(0).normal(0, 0.05, (64, 64, 3))
    image = np.clip(image, 0, 1)
    errors = [np.abs(jpeg_roundtrip(image, q) - image).mean() for q in (95, 30)]
    assert errors[0] < errors[1]
    assert np.allclose(jpeg_roundtrip(image, 95) * 255, np.round(jpeg_roundtrip(image, 95) * 255))
    with pytest.raises(UserError, match="1..100"):
        jpeg_roundtrip(image, 0)
