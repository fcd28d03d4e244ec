import math

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from senmvae.metrics import MetricInputError, psnr, ssim


def _smooth_image(seed: int, size=(48, 40)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0 : size[0], 0 : size[1]] / max(size)
    base = np.stack([0.5 + 0.4 * np.sin(3 * xx + c) * np.cos(2 * yy) for c in range(3)], axis=-1)
    return np.clip(base + 0.02 * rng.standard_normal(base.shape), 0, 1).astype(np.float32)


def test_psnr_of_a_known_mse():
    clean = np.full((8, 8, 3), 0.5, dtype=np.float32)
    offset = clean + 0.1  # MSE 0.01 -> 20 dB
    assert psnr(offset, clean).item() == pytest.approx(20.0, abs=1e-5)
    half = clean.copy()
    half[:4] += 0.2  # half the pixels off by 0.2: MSE 0.02
    assert psnr(half, clean).item() == pytest.approx(10 * math.log10(1 / 0.02), abs=1e-5)


def test_psnr_is_per_image_and_infinite_for_identical_images():
    clean = torch.full((2, 3, 4, 4), 0.5)
    noisy = clean.clone()
    noisy[1] += 0.01  # MSE 1e-4 -> 40 dB
    values = psnr(noisy, clean)
    assert values.shape == (2,)
    assert math.isinf(values[0].item())
    assert values[1].item() == pytest.approx(40.0, abs=1e-4)


def test_psnr_data_range_and_8bit_quantisation():
    clean = np.full((4, 4, 3), 100 / 255, dtype=np.float32)
    assert psnr(clean * 255 + 5, clean * 255, data_range=255).item() == pytest.approx(
        20 * math.log10(255 / 5), abs=1e-4
    )
    # 0.4/255 below the level: rounds back to the clean level when quantised
    slightly_off = clean - 0.4 / 255
    assert math.isinf(psnr(slightly_off, clean, quantize=True).item())
    # out-of-range values are clipped before rounding: 1.2 -> 1.0, MSE (1 - 100/255)^2
    assert psnr(np.full_like(clean, 1.2), clean, quantize=True).item() == pytest.approx(
        -20 * math.log10(155 / 255), abs=1e-4
    )


def test_ssim_matches_skimage_gaussian_definition():
    clean = _smooth_image(0)
    noisy = np.clip(clean + 0.08 * np.random.default_rng(1).standard_normal(clean.shape), 0, 1).astype(np.float32)
    expected = structural_similarity(
        noisy, clean, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0, channel_axis=-1
    )
    assert ssim(noisy, clean).item() == pytest.approx(expected, abs=1e-6)


def test_ssim_batches_and_bounds():
    a, b = _smooth_image(2), _smooth_image(3)
    batch_a = torch.from_numpy(np.stack([a, a])).permute(0, 3, 1, 2)
    batch_b = torch.from_numpy(np.stack([a, b])).permute(0, 3, 1, 2)
    values = ssim(batch_a, batch_b)
    assert values.shape == (2,)
    assert values[0].item() == pytest.approx(1.0, abs=1e-12)
    assert values[1].item() < 0.9


def test_mismatched_or_tiny_images_are_refused():
    with pytest.raises(MetricInputError, match="same shape"):
        psnr(np.zeros((8, 8, 3)), np.zeros((8, 9, 3)))
    with pytest.raises(MetricInputError, match="11x11"):
        ssim(np.zeros((8, 8, 3)), np.zeros((8, 8, 3)))
    with pytest.raises(MetricInputError, match=r"\(H, W, 3\)"):
        psnr(np.zeros((8, 8)), np.zeros((8, 8)))
