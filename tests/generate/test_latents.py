import torch

from senmvae.generate.latents import LatentField, field_supply
from tests.generate.helpers import stochastic_tiny


def test_a_noise_supply_gives_the_sample_the_generators_give_with_the_same_draws():
    net = stochastic_tiny()
    clean = torch.rand(2, 3, 32, 48, generator=torch.Generator().manual_seed(0))
    level = torch.tensor([0.02, 0.06])
    generators = [torch.Generator().manual_seed(s) for s in (1, 2)]
    twins = [torch.Generator().manual_seed(s) for s in (1, 2)]

    def same_draws(index, name, like):
        return torch.stack([torch.randn(like.shape[1:], generator=g) for g in twins])

    with torch.inference_mode():
        expected = net.sample(clean, level, 0.8, generators)
        got = net.sample(clean, level, 0.8, noise=same_draws)
        assert torch.equal(got, expected)
        assert torch.equal(net.sample(clean, level, 0.0, noise=same_draws), net.sample(clean, level, 0.0))


def test_a_field_region_is_the_same_noise_wherever_it_is_cut_from():
    field = LatentField(123)
    big = field.region(2, "zn", 3, 10, 50, 100, 90)  # spans several 64-pixel blocks
    small = field.region(2, "zn", 3, 70, 61, 20, 30)
    torch.testing.assert_close(small, big[:, 60:80, 11:41], rtol=0, atol=0)
    assert abs(big.mean()) < 0.05 and abs(big.std() - 1) < 0.05


def test_fields_differ_by_key_level_and_latent():
    a = LatentField(1).region(0, "z", 2, 0, 0, 16, 16)
    assert not torch.equal(a, LatentField(2).region(0, "z", 2, 0, 0, 16, 16))
    assert not torch.equal(a, LatentField(1).region(1, "z", 2, 0, 0, 16, 16))
    assert not torch.equal(a, LatentField(1).region(0, "zn", 2, 0, 0, 16, 16))


def test_field_supply_scales_offsets_to_each_level():
    fields = [LatentField(5), LatentField(6)]
    supply = field_supply(fields, top=32, left=16, input_height=64)
    half_res = torch.empty(2, 3, 32, 40)  # a level at half the tile's resolution
    noise = supply(1, "z", half_res)
    assert noise.shape == half_res.shape
    torch.testing.assert_close(noise[1], fields[1].region(1, "z", 3, 16, 8, 32, 40), rtol=0, atol=0)
