"""The content-exact sampler: the noise zn adds, on top of the real clean image."""

import copy

import numpy as np
import pytest
import torch

from senmvae.errors import UserError
from senmvae.generate import NoiseModel
from senmvae.model import SeNMVAE, model_preset
from tests.generate.helpers import smooth_image, stochastic_tiny


def _clean(h=32, w=32, seed=0):
    return torch.from_numpy(smooth_image(h, w, seed)).permute(2, 0, 1)[None]


def test_without_any_zn_contribution_the_output_is_the_clean_image():
    net = stochastic_tiny()
    for level in net.levels:
        torch.nn.init.zeros_(level.proj_zn.weight)
        torch.nn.init.zeros_(level.proj_zn.bias)
    clean = _clean()
    out = NoiseModel(net, level=0.05, sampler="content-exact").sample(clean, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(out, clean, atol=1e-6, rtol=0)


def test_noise_is_zero_mean_per_channel_and_keeps_the_content_exactly():
    net = stochastic_tiny()
    model = NoiseModel(net, level=0.05, sampler="content-exact")
    clean = _clean(40, 24)
    out = model.sample(clean, generator=torch.Generator().manual_seed(1))
    noise = out - clean
    assert noise.abs().mean() > 1e-4
    torch.testing.assert_close(noise.mean((2, 3)), torch.zeros(1, 3), atol=1e-6, rtol=0)
    paper = NoiseModel(net, level=0.05).sample(clean, generator=torch.Generator().manual_seed(1))
    assert (paper - clean).abs().mean() > noise.abs().mean()  # the paper sampler regenerates the content too


def test_content_exact_is_seeded_and_tiles_like_the_whole_image():
    clean, net = _clean(150, 110), stochastic_tiny()
    whole = NoiseModel(net, level=0.05, sampler="content-exact", tile_size=4096)
    tiled = NoiseModel(net, level=0.05, sampler="content-exact", tile_size=64, tile_overlap=32)
    a = whole.sample(clean, generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, whole.sample(clean, generator=torch.Generator().manual_seed(2)))
    b = tiled.sample(clean, generator=torch.Generator().manual_seed(2))
    assert (a - clean).std() > 0.01  # there is noise to get wrong
    assert (a - b).abs().max() < 2e-3


def test_unknown_sampler_is_refused():
    with pytest.raises(UserError, match="sampler"):
        NoiseModel(SeNMVAE(model_preset("tiny")), sampler="magic")


def test_pil_and_numpy_inputs_work_with_content_exact():
    model = NoiseModel(stochastic_tiny(), level=0.05, sampler="content-exact")
    array = (smooth_image(24, 40) * 255).astype(np.uint8)
    out = model.sample(array, generator=torch.Generator().manual_seed(0))
    assert out.shape == (24, 40, 3)


def test_content_latents_are_the_mean_of_q_z_given_x_whatever_its_spread():
    """z is the mean of q(z|x): widening q(z|x) (raising its log sigma everywhere) leaves the output unchanged,
    where a z drawn from it would move with the spread."""
    clean = _clean(32, 40)
    narrow = stochastic_tiny()
    wide = copy.deepcopy(narrow)
    with torch.no_grad():
        for level in wide.levels:
            level.q_z_clean.log_sigma[1].bias.add_(3.0)
    outputs = [
        NoiseModel(net, level=0.05, sampler="content-exact").sample(clean, generator=torch.Generator().manual_seed(3))
        for net in (narrow, wide)
    ]
    assert (outputs[0] - clean).abs().mean() > 1e-4  # zn adds noise: there is something to compare
    torch.testing.assert_close(outputs[1], outputs[0], atol=1e-6, rtol=0)
    paper = [
        NoiseModel(net, level=0.05, sampler="paper").sample(clean, generator=torch.Generator().manual_seed(3))
        for net in (narrow, wide)
    ]
    assert (paper[1] - paper[0]).abs().max() > 1e-2  # the paper sampler draws z: the spread shows
