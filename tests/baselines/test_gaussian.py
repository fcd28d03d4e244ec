import numpy as np
import pytest
import torch

from senmvae.baselines import AWGN, HeteroscedasticGaussian, load_baseline
from senmvae.errors import UserError


def _images(count, size, seed):
    rng = np.random.default_rng(seed)
    return [rng.random((size, size, 3)) for _ in range(count)]


def _batch(image):
    return torch.as_tensor(image, dtype=torch.float32).permute(2, 0, 1)[None]


def test_awgn_fit_recovers_the_std():
    rng = np.random.default_rng(0)
    pairs = [(x, x + 0.03 * rng.standard_normal(x.shape)) for x in _images(2, 96, 1)]
    assert AWGN.fit(pairs).std == pytest.approx(0.03, rel=0.01)


def test_awgn_fit_accepts_dataset_records():
    class Image:
        def __init__(self, array):
            self.array = array

        def load(self):
            return self.array

    class Record:
        def __init__(self, clean, noisy):
            self.clean, self.noisy = Image(clean), Image(noisy)

    clean = np.full((8, 8, 3), 0.5, dtype=np.float32)
    assert AWGN.fit([Record(clean, clean + 0.1)]).std == pytest.approx(0.1, rel=1e-5)


def test_awgn_level_overrides_the_fitted_std_per_image():
    model = AWGN(std=0.01, clip=False)
    clean = torch.full((2, 3, 128, 128), 0.5)
    noisy = model.sample(clean, level=torch.tensor([0.05, 0.2]), generator=torch.Generator().manual_seed(0))
    stds = (noisy - clean).std(dim=(1, 2, 3))
    assert stds[0].item() == pytest.approx(0.05, rel=0.03)
    assert stds[1].item() == pytest.approx(0.2, rel=0.03)
    assert (model.sample(clean, temperature=0.0) == clean).all()


def test_awgn_clips_to_the_image_range_by_default():
    noisy = AWGN(std=0.5).sample(torch.full((1, 3, 16, 16), 0.9), generator=torch.Generator().manual_seed(0))
    assert noisy.max() <= 1.0 and noisy.min() >= 0.0


def test_heteroscedastic_fit_recovers_a_and_b_per_channel():
    # camera-like shot and read noise; about 77k pixels per channel put the standard error
    # near 1 % of a and 1.5e-5 of b, so the tolerances are about 5 standard errors
    a = np.array([0.004, 0.002, 0.006])
    b = np.array([2e-4, 4e-4, 1e-4])
    rng = np.random.default_rng(0)
    pairs = [(x, x + np.sqrt(a * x + b) * rng.standard_normal(x.shape)) for x in _images(3, 160, 2)]
    fitted = HeteroscedasticGaussian.fit(pairs)
    np.testing.assert_allclose(fitted.a, a, rtol=0.05)
    np.testing.assert_allclose(fitted.b, b, atol=7e-5)


def test_heteroscedastic_fit_never_returns_a_negative_slope():
    # noise that shrinks with the signal: the best non-negative line is flat at the mean square
    rng = np.random.default_rng(0)
    x = _images(1, 64, 3)[0]
    noisy = x + np.sqrt(0.01 * (1 - x)) * rng.standard_normal(x.shape)
    fitted = HeteroscedasticGaussian.fit([(x, noisy)])
    assert fitted.a == [0.0, 0.0, 0.0]
    np.testing.assert_allclose(fitted.b, np.mean((noisy - x) ** 2, axis=(0, 1)), rtol=1e-6)


def test_heteroscedastic_sample_follows_the_variance_and_the_level():
    model = HeteroscedasticGaussian(a=[0.01, 0.0, 0.02], b=[1e-4, 4e-4, 0.0], clip=False)
    clean = torch.full((1, 3, 200, 200), 0.5)
    noise = model.sample(clean, generator=torch.Generator().manual_seed(0)) - clean
    expected = np.sqrt(np.array([0.01, 0.0, 0.02]) * 0.5 + np.array([1e-4, 4e-4, 0.0]))
    np.testing.assert_allclose(noise.std(dim=(0, 2, 3)).numpy(), expected, rtol=0.02)

    ramp = torch.linspace(0, 1, 256).view(1, 1, 1, 256).expand(2, 3, 256, 256).contiguous()
    levelled = model.sample(ramp, level=[0.03, 0.1], generator=torch.Generator().manual_seed(1)) - ramp
    overall = levelled.pow(2).mean(dim=(1, 2, 3)).sqrt()
    np.testing.assert_allclose(overall.numpy(), [0.03, 0.1], rtol=0.02)
    # the level scales the signal dependence, it does not flatten it: dark pixels stay quieter than bright ones
    assert levelled[:, :, :, :64].std() < levelled[:, :, :, -64:].std()


def test_heteroscedastic_rejects_negative_parameters():
    with pytest.raises(UserError, match="must be >= 0"):
        HeteroscedasticGaussian(a=[0.01, -0.01, 0.0], b=[0.0, 0.0, 0.0])


@pytest.mark.parametrize("model", [AWGN(std=0.05), HeteroscedasticGaussian(a=[0.01, 0.02, 0.03], b=[1e-4, 1e-4, 1e-4])])
def test_sampling_is_reproducible_and_per_image_generators_are_batch_independent(model):
    images = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    first = model.sample(images, generator=torch.Generator().manual_seed(5))
    again = model.sample(images, generator=torch.Generator().manual_seed(5))
    assert torch.equal(first, again)
    assert not torch.equal(first, model.sample(images, generator=torch.Generator().manual_seed(6)))
    both = model.sample(images, generator=[torch.Generator().manual_seed(1), torch.Generator().manual_seed(2)])
    alone = model.sample(images[1:], generator=[torch.Generator().manual_seed(2)])
    assert torch.equal(both[1:], alone)


@pytest.mark.parametrize(
    "model", [AWGN(std=0.0123, clip=False), HeteroscedasticGaussian(a=[0.011, 0.0, 0.03], b=[2e-4, 1e-5, 0.0])]
)
def test_json_round_trip(tmp_path, model):
    loaded = load_baseline(model.save(tmp_path / "noise.json"))
    assert type(loaded) is type(model)
    assert loaded.to_dict() == model.to_dict()
    clean = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    assert torch.equal(
        loaded.sample(clean, generator=torch.Generator().manual_seed(3)),
        model.sample(clean, generator=torch.Generator().manual_seed(3)),
    )


def test_load_baseline_names_the_file_at_fault(tmp_path):
    path = tmp_path / "noise.json"
    path.write_text('{"kind": "poisson", "lam": 3}')
    with pytest.raises(UserError, match="noise.json: unknown baseline noise model kind 'poisson'"):
        load_baseline(path)
    path.write_text("{not json")
    with pytest.raises(UserError, match="not valid JSON"):
        load_baseline(path)
    with pytest.raises(UserError, match="does not exist"):
        load_baseline(tmp_path / "missing.json")
