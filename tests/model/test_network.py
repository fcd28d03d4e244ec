import copy

import pytest
import torch

from senmvae.model import SeNMVAE, model_preset
from senmvae.model.config import ModelConfig


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    model = SeNMVAE(model_preset("tiny")).eval()
    _randomise_zero_inits(model)
    return model


def _randomise_zero_inits(model: SeNMVAE) -> None:
    """Zero-initialised projections/heads hide bugs in what they would carry; perturb them."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))


def test_paper_preset_has_the_official_parameter_counts():
    model = SeNMVAE(model_preset("paper"))
    assert model.num_parameters() == pytest.approx(20.0e6, rel=0.01)
    assert model.num_parameters("level_predictor") == pytest.approx(2.9e6, rel=0.02)
    assert model.config.num_levels == 7


def test_level_layout_follows_groups():
    cfg = ModelConfig(levels_per_group=(2, 4))
    assert cfg.level_kinds == ["block", "block", "resample"] + ["block"] * 4
    assert cfg.size_multiple == 2
    assert ModelConfig(levels_per_group=(1, 2, 1), num_down=1).size_multiple == 8


@pytest.mark.parametrize("size", [(16, 16), (13, 21), (7, 5)])
def test_any_image_size_round_trips(tiny, size):
    clean = torch.rand(2, 3, *size)
    with torch.no_grad():
        noisy = tiny.sample(clean, level=0.05, generator=torch.Generator().manual_seed(0))
        back = tiny.denoise(noisy)
    assert noisy.shape == clean.shape and back.shape == clean.shape
    assert torch.isfinite(noisy).all()


def test_odd_size_output_is_the_crop_of_the_padded_input(tiny):
    clean = torch.rand(1, 3, 15, 17)
    padded = torch.nn.functional.pad(clean, (0, 1, 0, 1), mode="reflect")
    with torch.no_grad():
        odd = tiny.sample(clean, 0.05, temperature=0)
        even = tiny.sample(padded, 0.05, temperature=0)
    torch.testing.assert_close(odd, even[..., :15, :17])


def test_seeded_sampling_is_reproducible_and_independent_of_batch(tiny):
    clean = torch.rand(3, 3, 16, 16)
    gens = lambda: [torch.Generator().manual_seed(s) for s in (7, 8, 9)]  # noqa: E731
    with torch.no_grad():
        a = tiny.sample(clean, 0.05, generator=gens())
        b = tiny.sample(clean, 0.05, generator=gens())
        alone = tiny.sample(clean[1:2], 0.05, generator=[torch.Generator().manual_seed(8)])
        other = tiny.sample(clean, 0.05, generator=[torch.Generator().manual_seed(s) for s in (1, 2, 3)])
    assert torch.equal(a, b)
    torch.testing.assert_close(a[1:2], alone, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(a, other)


def test_temperature_zero_is_deterministic_and_level_matters(tiny):
    clean = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        a = tiny.sample(clean, 0.02, temperature=0)
        b = tiny.sample(clean, 0.02, temperature=0)
        c = tiny.sample(clean, 0.2, temperature=0)
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)


def test_level_predictor_outputs_one_std_per_image(tiny):
    assert tiny.predict_level(torch.rand(4, 3, 32, 32)).shape == (4,)


def test_reconstruct_decodes_the_mean_of_q_z_given_x_without_zn(tiny):
    """reconstruct(x) is what sample gives at temperature 0 (z and zn at their means) once zn adds nothing,
    and it does not move when q(z|x) widens (z is its mean, not a draw)."""
    without_zn = copy.deepcopy(tiny)
    wide = copy.deepcopy(tiny)
    with torch.no_grad():
        for level in without_zn.levels:
            level.proj_zn.weight.zero_()
            level.proj_zn.bias.zero_()
        for level in wide.levels:
            level.q_z_clean.log_sigma[1].bias.add_(3.0)
    clean = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        reconstructed = tiny.reconstruct(clean)
        torch.testing.assert_close(reconstructed, without_zn.sample(clean, 0.05, temperature=0), atol=1e-6, rtol=0)
        torch.testing.assert_close(wide.reconstruct(clean), reconstructed, atol=1e-6, rtol=0)
        assert (tiny.sample(clean, 0.05, temperature=0) - reconstructed).abs().max() > 1e-3  # zn does add


def test_reconstruct_of_an_odd_size_is_the_crop_of_the_padded_input(tiny):
    clean = torch.rand(1, 3, 15, 17, generator=torch.Generator().manual_seed(5))
    padded = torch.nn.functional.pad(clean, (0, 1, 0, 1), mode="reflect")
    with torch.no_grad():
        odd, even = tiny.reconstruct(clean), tiny.reconstruct(padded)
    assert odd.shape == clean.shape
    torch.testing.assert_close(odd, even[..., :15, :17])
