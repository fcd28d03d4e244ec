import math

import numpy as np
import pytest
import torch

from senmvae.metrics import (
    NOISE_HISTOGRAM_CONVENTIONS,
    akld_danet,
    akld_reverse,
    kl_intensity_histogram_senmvae,
    kl_noise_histogram,
    local_noise_variance,
)
from senmvae.metrics.kl import opencv_gray_levels

NO_NOISE_DANET = 0.5 * (0.1 - 1 + math.log(10))  # 0.7013: the clamp's ceiling for missing noise
NO_NOISE_REVERSE = 0.5 * (10 - 1 - math.log(10))  # 3.3487


def _grey_image(levels: list[int], shape=(8, 8)) -> np.ndarray:
    """An RGB image whose pixels take the given 8-bit grey levels in equal shares."""
    flat = np.repeat(np.asarray(levels, dtype=np.float32), shape[0] * shape[1] // len(levels)) / 255
    return np.repeat(flat.reshape(*shape, 1), 3, axis=2)


def test_opencv_grey_conversion():
    rgb = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.4, 0.4, 0.4]]).T.reshape(1, 3, 1, 4)
    # OpenCV COLOR_RGB2GRAY of pure red, green, blue and grey 102
    assert opencv_gray_levels(rgb).flatten().tolist() == [76, 150, 29, 102]


def test_senmvae_histogram_kl_of_two_known_histograms():
    synthetic = _grey_image([100, 200])  # p = (1/2, 1/2)
    real = _grey_image([100, 200, 200, 200])  # q = (1/4, 3/4)
    smoothed = lambda q: (q + 1e-8) / (1 + 256e-8)  # noqa: E731 -- the official 1e-8 guard on q
    expected = 0.5 * math.log(0.5 / smoothed(0.25)) + 0.5 * math.log(0.5 / smoothed(0.75))
    assert kl_intensity_histogram_senmvae([synthetic], [real]) == pytest.approx(expected, rel=1e-9)
    # direction KL(synthetic || real): swapping the arguments gives the other value
    swapped = 0.25 * math.log(0.25 / smoothed(0.5)) + 0.75 * math.log(0.75 / smoothed(0.5))
    assert kl_intensity_histogram_senmvae([real], [synthetic]) == pytest.approx(swapped, rel=1e-9)


def test_senmvae_histogram_kl_averages_pairs_and_guards_empty_bins():
    same = _grey_image([10, 20])
    # a synthetic level absent from the real image costs log(1 / 1e-8)-ish, not infinity
    disjoint = kl_intensity_histogram_senmvae([_grey_image([30])], [_grey_image([40])])
    assert disjoint == pytest.approx(-math.log(1e-8 / (1 + 256e-8)), rel=1e-6)
    values = kl_intensity_histogram_senmvae([same, _grey_image([30])], [same, _grey_image([40])], reduction="none")
    assert values[0] == pytest.approx(math.log(0.5 / ((0.5 + 1e-8) / (1 + 256e-8))), rel=1e-5)  # ~0: only the guard
    assert values.mean() == pytest.approx(
        kl_intensity_histogram_senmvae([same, _grey_image([30])], [same, _grey_image([40])])
    )


def _noise_pair(shares: dict[int, float], shape=(8, 8)) -> tuple[np.ndarray, np.ndarray]:
    """Clean grey 128 and a noisy image whose noise takes the given 8-bit offsets in the given shares."""
    clean = np.full((*shape, 3), 128 / 255, dtype=np.float32)
    offsets = np.concatenate([np.full(int(round(share * clean.size)), off) for off, share in shares.items()])
    return clean, (clean + offsets.reshape(clean.shape) / 255).astype(np.float32)


def test_neca_noise_histogram_kl_of_two_known_histograms():
    clean, real = _noise_pair({+1: 0.5, -1: 0.5})
    _, synthetic = _noise_pair({+1: 0.25, -1: 0.75})
    expected = 0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75)  # KL(real || synthetic)
    assert kl_noise_histogram(synthetic, real, clean, convention="neca") == pytest.approx(expected, abs=1e-9)


def test_neca_drops_bins_empty_on_either_side():
    clean, real = _noise_pair({+1: 0.5, -1: 0.5})
    _, synthetic = _noise_pair({+1: 1.0})
    # only the +1 bin is kept: 0.5 log(0.5 / 1); NeCA's convention can go negative
    assert kl_noise_histogram(synthetic, real, clean, convention="neca") == pytest.approx(0.5 * math.log(0.5), abs=1e-9)


def test_noise_flow_srgb_histogram_adds_one_count_per_bin():
    clean, real = _noise_pair({+1: 0.5, -1: 0.5})
    _, synthetic = _noise_pair({+1: 1.0})
    edges = NOISE_HISTOGRAM_CONVENTIONS["noise_flow_srgb"].edges
    bins, n = len(edges) - 1, clean.size
    # +1 falls in the bin [0, 4), -1 in [-4, 0)
    p = np.ones(bins)
    q = np.ones(bins)
    zero_bin = int(np.searchsorted(edges, 0.0, side="right")) - 1
    p[zero_bin] += n / 2
    p[zero_bin - 1] += n / 2
    q[zero_bin] += n
    p, q = p / p.sum(), q / q.sum()
    expected = float(np.sum(p * np.log(p / q)))
    assert kl_noise_histogram(synthetic, real, clean, convention="noise_flow_srgb") == pytest.approx(expected, rel=1e-9)


def test_noise_histogram_quantises_synthetic_images():
    clean, real = _noise_pair({+1: 0.5, -1: 0.5})
    _, synthetic = _noise_pair({+1: 0.5, -1: 0.25, -0.55: 0.25})  # -0.55 rounds back to -1 when quantised
    assert kl_noise_histogram(synthetic, real, clean) == pytest.approx(0.0, abs=1e-12)
    # unquantised, -0.55 falls in the next NeCA bin (width 0.8 levels), which the real noise leaves empty
    assert kl_noise_histogram(synthetic, real, clean, quantize_synthetic=False) == pytest.approx(
        0.5 * math.log(2), abs=1e-9
    )


@pytest.mark.parametrize("convention", sorted(NOISE_HISTOGRAM_CONVENTIONS))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_noise_on_bin_edges_is_binned_the_same_whatever_the_dtype(convention, dtype):
    clean, real = _noise_pair({0: 0.25, +4: 0.25, -4: 0.25, +8: 0.25})  # whole levels on Noise Flow's edges
    clean_t, real_t = (torch.from_numpy(a).permute(2, 0, 1)[None].to(dtype) for a in (clean, real))
    assert kl_noise_histogram(real_t, real_t, clean_t, convention=convention) == 0.0


def _noise_field(seed: int, shape=(1, 3, 24, 24), std=0.02) -> torch.Tensor:
    return std * torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_local_noise_variance_of_constant_noise():
    clean = torch.full((1, 3, 10, 12), 0.5, dtype=torch.float64)
    variance = local_noise_variance(clean + 0.03, clean)
    torch.testing.assert_close(variance, torch.full_like(clean, 0.03**2))
    assert local_noise_variance(clean, clean).min().item() == pytest.approx(1e-10)


def test_akld_of_identical_noise_is_zero():
    clean = torch.full((2, 3, 24, 24), 0.5, dtype=torch.float64)
    noisy = clean + _noise_field(0, clean.shape)
    assert akld_danet(noisy, noisy, clean).tolist() == [0.0, 0.0]
    assert akld_reverse(noisy, noisy, clean).tolist() == [0.0, 0.0]


def test_akld_of_doubled_noise_has_the_closed_form():
    clean = torch.full((1, 3, 24, 24), 0.5, dtype=torch.float64)
    noise = _noise_field(1)
    real, synthetic = clean + noise, clean + 2 * noise  # local variance ratio exactly 4 everywhere
    assert akld_danet(synthetic, real, clean).item() == pytest.approx(0.5 * (4 - 1 - math.log(4)), rel=1e-9)
    assert akld_reverse(synthetic, real, clean).item() == pytest.approx(0.5 * (0.25 - 1 + math.log(4)), rel=1e-9)


def test_akld_clamp_caps_missing_noise_in_danet_direction_only():
    clean = torch.full((1, 3, 24, 24), 0.5, dtype=torch.float64)
    real = clean + _noise_field(2)
    assert akld_danet(clean, real, clean).item() == pytest.approx(NO_NOISE_DANET, rel=1e-9)
    assert akld_reverse(clean, real, clean).item() == pytest.approx(NO_NOISE_REVERSE, rel=1e-9)
    # without DANet's clamp the missing noise costs far more
    assert akld_danet(clean, real, clean, ratio_clamp=None).item() > 5


def test_akld_clips_synthetic_images_by_default():
    clean = torch.full((1, 3, 16, 16), 0.99, dtype=torch.float64)
    real = clean + _noise_field(3, clean.shape, std=0.005)
    overshoot = real + 0.05  # beyond 1: clipping back changes the noise
    assert akld_danet(overshoot, real, clean).item() != pytest.approx(
        akld_danet(overshoot, real, clean, clip_synthetic=False).item()
    )


def _danet_local_variance(noise: np.ndarray) -> np.ndarray:
    """DANet's recipe written out by hand for one (H, W) channel: cv2.filter2D of noise^2 with the outer product
    of cv2.getGaussianKernel(7, -1) (OpenCV's fixed 7-tap table 1, 3.5, 7, 9, 7, 3.5, 1 over 32) and the default
    border BORDER_REFLECT_101 (gfedcb|abcdefgh|gfedcba), then floored at 1e-10."""
    taps = np.array([1.0, 3.5, 7.0, 9.0, 7.0, 3.5, 1.0]) / 32.0
    height, width = noise.shape

    def mirror(i: int, n: int) -> int:
        return -i if i < 0 else (2 * (n - 1) - i if i >= n else i)

    out = np.zeros_like(noise)
    for y in range(height):
        for x in range(width):
            out[y, x] = sum(
                taps[dy + 3] * taps[dx + 3] * noise[mirror(y + dy, height), mirror(x + dx, width)] ** 2
                for dy in range(-3, 4)
                for dx in range(-3, 4)
            )
    return np.maximum(out, 1e-10)


def test_akld_with_a_variance_ratio_that_varies_across_the_image_matches_danets_recipe():
    """Noise whose level changes across the image (left to right for the real noise, top to bottom for the
    synthetic one, with a noise-free patch at a corner) so that the window and the border handling matter."""
    rng = np.random.default_rng(7)
    height, width = 11, 14
    y, x = np.mgrid[0:height, 0:width]
    real_noise = rng.normal(size=(3, height, width)) * (0.01 + 0.004 * x)
    synthetic_noise = rng.normal(size=(3, height, width)) * (0.05 - 0.004 * y)
    synthetic_noise[:, :3, :4] = 0.0  # the ratio clamps at 0.1 around here
    clean = np.full((3, height, width), 0.5)
    var_real = np.stack([_danet_local_variance(c) for c in real_noise])
    var_synthetic = np.stack([_danet_local_variance(c) for c in synthetic_noise])

    def kl(ratio: np.ndarray) -> float:
        return float(np.mean(0.5 * (ratio - 1.0 - np.log(ratio))))

    as_batch = lambda a: torch.from_numpy(a)[None]  # noqa: E731
    real, synthetic, clean_t = as_batch(clean + real_noise), as_batch(clean + synthetic_noise), as_batch(clean)
    torch.testing.assert_close(local_noise_variance(real, clean_t)[0], torch.from_numpy(var_real), rtol=1e-9, atol=0)
    ratio = var_synthetic / var_real
    assert ratio.min() < 0.1 and ratio.max() > 1.5  # the ratio does vary, and the clamp is reached
    assert akld_danet(synthetic, real, clean_t).item() == pytest.approx(kl(np.clip(ratio, 0.1, 10)), rel=1e-9)
    assert akld_reverse(synthetic, real, clean_t).item() == pytest.approx(kl(np.clip(1 / ratio, 0.1, 10)), rel=1e-9)
    unclamped = akld_danet(synthetic, real, clean_t, ratio_clamp=None).item()
    assert unclamped == pytest.approx(kl(ratio), rel=1e-9)
