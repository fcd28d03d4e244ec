import json

import numpy as np
import pytest
import torch

from senmvae.baselines import ColoredHeteroscedasticGaussian, load_baseline
from senmvae.errors import UserError
from senmvae.metrics import noise_structure

# Unit-variance channels: the mixing rows have norm 1, and each mixed field is a 3x3 box sum / 3
MIXING = np.array([[1.0, 0.0, 0.0], [0.8, 0.6, 0.0], [0.3, -0.4, np.sqrt(0.75)]])
# b = a / 10: every channel's std is a multiple of sqrt(clean + 0.1), so the channel correlation is
# that of the mixed fields, and on smooth clean images the spatial one that of the box
A = np.array([0.004, 0.002, 0.006])
B = A / 10


def _gradient(size: int, tilt: float) -> np.ndarray:
    ramp = np.linspace(0.1, 0.9, size)
    image = (1 - tilt) * ramp[None, :] + tilt * ramp[:, None]
    return np.repeat(image[..., None], 3, axis=-1)


def _structured_noise(size: int, rng: np.random.Generator) -> np.ndarray:
    white = rng.standard_normal((size + 2, size + 2, 3))
    boxed = sum(white[dy : dy + size, dx : dx + size] for dy in range(3) for dx in range(3)) / 3
    return boxed @ MIXING.T


def _pairs(count: int, size: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    pairs = []
    for i in range(count):
        clean = _gradient(size, tilt=i / max(count - 1, 1))
        pairs.append((clean, clean + np.sqrt(A * clean + B) * _structured_noise(size, rng)))
    return pairs


@pytest.fixture(scope="module")
def fitted() -> ColoredHeteroscedasticGaussian:
    return ColoredHeteroscedasticGaussian.fit(_pairs(6, 192, 0), clip=False)


def test_sampled_noise_has_the_structure_of_the_fitted_noise(fitted):
    covariance = MIXING @ MIXING.T
    truth_channels = [covariance[i, j] for i, j in ((0, 1), (0, 2), (1, 2))]  # RG 0.8, RB 0.3, GB 0
    clean = torch.from_numpy(np.stack([_gradient(256, 0.3), _gradient(256, 0.7)])).permute(0, 3, 1, 2)
    noisy = fitted.sample(clean, generator=torch.Generator().manual_seed(0))
    structure = noise_structure(noisy, clean)
    # a 3x3 box: correlation 2/3 at lag 1 and 1/3 at lag 2 along either axis
    assert structure.lag1 == pytest.approx(2 / 3, abs=0.05)
    assert structure.lag2 == pytest.approx(1 / 3, abs=0.05)
    np.testing.assert_allclose(structure.channel_correlation, truth_channels, atol=0.05)
    np.testing.assert_allclose(fitted.line.a, A, rtol=0.15)
    np.testing.assert_allclose(fitted.line.b, B, rtol=0.3, atol=2e-4)


def test_a_white_heteroscedastic_fit_gives_an_identity_filter():
    rng = np.random.default_rng(1)
    clean = _gradient(128, 0.5)
    pairs = [(clean, clean + np.sqrt(A * clean + B) * rng.standard_normal(clean.shape)) for _ in range(4)]
    kernel = ColoredHeteroscedasticGaussian.fit(pairs, kernel_size=5).kernel
    centre = kernel[:, :, 2, 2]
    np.testing.assert_allclose(centre, np.eye(3), atol=0.1)


def test_the_level_sets_each_images_noise_std(fitted):
    clean = torch.from_numpy(np.stack([_gradient(128, 0.2), _gradient(128, 0.8)])).permute(0, 3, 1, 2)
    noisy = fitted.sample(clean, level=torch.tensor([0.02, 0.06], dtype=clean.dtype), generator=None)
    stds = (noisy - clean).pow(2).mean(dim=(1, 2, 3)).sqrt()
    np.testing.assert_allclose(stds.numpy(), [0.02, 0.06], rtol=0.05)
    assert torch.equal(fitted.sample(clean, temperature=0.0), clean)


def test_per_image_generators_make_each_image_independent_of_its_batch(fitted):
    clean = torch.from_numpy(np.stack([_gradient(40, 0.0), _gradient(40, 1.0)])).permute(0, 3, 1, 2)
    both = fitted.sample(clean, generator=[torch.Generator().manual_seed(s) for s in (1, 2)])
    second = fitted.sample(clean[1:], generator=[torch.Generator().manual_seed(2)])
    assert torch.equal(both[1:], second)
    assert not torch.equal(both[:1], second)


def test_json_round_trip_keeps_the_model(fitted, tmp_path):
    path = fitted.save(tmp_path / "colored.json")
    loaded = load_baseline(path)
    assert isinstance(loaded, ColoredHeteroscedasticGaussian)
    assert loaded.parameters() == json.loads(json.dumps(fitted.parameters()))
    clean = torch.full((1, 3, 24, 24), 0.5, dtype=torch.float64)
    assert torch.equal(
        loaded.sample(clean, generator=torch.Generator().manual_seed(3)),
        fitted.sample(clean, generator=torch.Generator().manual_seed(3)),
    )


def test_sampling_clips_by_default():
    model = ColoredHeteroscedasticGaussian(a=[0.0] * 3, b=[0.25] * 3, kernel=np.eye(3)[:, :, None, None])
    noisy = model.sample(torch.full((1, 3, 16, 16), 0.9), generator=torch.Generator().manual_seed(0))
    assert noisy.max() <= 1.0 and noisy.min() >= 0.0


def test_pairs_smaller_than_a_tile_are_cut_into_smaller_tiles():
    # tiles of 24x24, the smaller pair's side, which still hold a 15x15 kernel
    large, small = _pairs(2, 96, 4)[0], _pairs(2, 24, 5)[1]
    model = ColoredHeteroscedasticGaussian.fit([large, small], clip=False)
    assert model.kernel.shape == (3, 3, 15, 15)
    tiny = ColoredHeteroscedasticGaussian.fit(_pairs(1, 10, 6), clip=False)
    assert tiny.kernel.shape == (3, 3, 9, 9)  # the largest odd size within a 10x10 tile
    clean = torch.from_numpy(np.stack([_gradient(128, 0.5)])).permute(0, 3, 1, 2)
    structure = noise_structure(model.sample(clean, generator=torch.Generator().manual_seed(0)), clean)
    assert structure.lag1 == pytest.approx(2 / 3, abs=0.07)


def test_bad_fit_settings_are_refused():
    with pytest.raises(UserError, match="kernel_size must be odd"):
        ColoredHeteroscedasticGaussian.fit(_pairs(1, 16, 0), kernel_size=4)


def test_a_saved_model_with_a_bad_kernel_is_refused(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"kind": "colored_heteroscedastic", "a": [0.0] * 3, "b": [1e-4] * 3, "kernel": [[1.0]]}))
    with pytest.raises(UserError, match=r"bad.json.*shape \(3, 3, k, k\)"):
        load_baseline(path)
    kernel = np.zeros((3, 3, 3, 3))
    kernel[0, 0, 1, 1] = np.nan
    path.write_text(
        json.dumps({"kind": "colored_heteroscedastic", "a": [0.0] * 3, "b": [1e-4] * 3, "kernel": kernel.tolist()})
    )
    with pytest.raises(UserError, match="not finite"):
        load_baseline(path)
