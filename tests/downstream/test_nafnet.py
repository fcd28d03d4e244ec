import pytest
import torch

from senmvae.config import ConfigError
from senmvae.downstream import DnCNNConfig, PairCrops, denoise_image, parameter_count, train_denoiser
from senmvae.downstream.nafnet import NAFNet


def _config(**changes) -> DnCNNConfig:
    return DnCNNConfig(network="nafnet", width=8, depth=1, unshuffle=1, crop=16).replace(**changes)


@pytest.mark.parametrize("unshuffle", [1, 2])
def test_output_has_the_input_shape_and_an_untrained_nafnet_is_the_identity(unshuffle):
    model = NAFNet(_config(unshuffle=unshuffle, crop=16))
    assert model.size_multiple == 4 * unshuffle
    noisy = torch.rand(2, 3, 16, 24)
    assert torch.equal(model(noisy), noisy)


def test_depth_adds_middle_blocks_and_width_doubles_per_level():
    small, deep = NAFNet(_config(depth=1)), NAFNet(_config(depth=3))
    assert len(deep.middle) == 3 and parameter_count(deep) > parameter_count(small)
    assert [block.expand.in_channels for block in small.encoders] == [8, 16]
    assert small.middle[0].expand.in_channels == 32


def test_training_selects_nafnet_and_learns_and_denoise_image_pads_any_size():
    rng = torch.Generator().manual_seed(0)
    clean = torch.rand(4, 32, 32, 3, generator=rng).numpy() * 0.5 + 0.25
    noisy = clean + 0.1 * torch.randn(clean.shape, generator=rng).numpy()
    pairs = list(zip(clean, noisy))
    model, history = train_denoiser(_config(steps=30, lr=2e-3, batch_size=4, warmup_steps=1), PairCrops(pairs))
    assert isinstance(model, NAFNet)
    assert history.loss[-1] < history.loss[0]
    assert denoise_image(model, noisy[0][:30, :27]).shape == (30, 27, 3)


def test_config_checks_nafnet_sizes():
    with pytest.raises(ConfigError, match="times 4 for nafnet"):
        _config(crop=18, unshuffle=1)
    with pytest.raises(ConfigError, match="network"):
        DnCNNConfig(network="unet")
    assert _config(depth=1).depth == 1
    with pytest.raises(ConfigError, match="depth"):
        DnCNNConfig(depth=1)
