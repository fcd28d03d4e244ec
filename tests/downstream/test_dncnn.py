import math

import pytest
import torch
from torch import nn

from senmvae.config import ConfigError
from senmvae.downstream import DnCNN, DnCNNConfig
from senmvae.downstream.train import lr_factor


@pytest.mark.parametrize("unshuffle", [1, 2])
def test_output_has_the_input_shape_and_depth_counts_every_conv(unshuffle):
    config = DnCNNConfig(depth=5, width=8, unshuffle=unshuffle, crop=8)
    model = DnCNN(config)
    noisy = torch.rand(2, 3, 12, 16)
    assert model(noisy).shape == noisy.shape
    assert sum(isinstance(m, nn.Conv2d) for m in model.modules()) == 5
    assert model.body[0].in_channels == 3 * unshuffle**2


def test_an_untrained_residual_dncnn_is_the_identity():
    model = DnCNN(DnCNNConfig(depth=4, width=8, unshuffle=2, crop=8))
    noisy = torch.rand(1, 3, 8, 8)
    assert torch.equal(model(noisy), noisy)


def test_residual_learning_subtracts_the_predicted_noise():
    config = DnCNNConfig(depth=3, width=4, unshuffle=1, crop=8)
    residual = DnCNN(config)
    plain = DnCNN(config.replace(residual=False))
    plain.load_state_dict(residual.state_dict())
    nn.init.normal_(residual.head.weight, std=0.1)
    plain.head.weight.data.copy_(residual.head.weight.data)
    noisy = torch.rand(1, 3, 8, 8)
    torch.testing.assert_close(residual(noisy), noisy - plain(noisy))


def test_batch_norm_layers_follow_the_config():
    model = DnCNN(DnCNNConfig(depth=6, width=8, batch_norm=True, unshuffle=1, crop=8))
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == 4


def test_config_rejects_impossible_settings():
    with pytest.raises(ConfigError, match="multiple of unshuffle"):
        DnCNNConfig(crop=33, unshuffle=2)
    with pytest.raises(ConfigError, match="lr_schedule"):
        DnCNNConfig(lr_schedule="linear")
    with pytest.raises(ConfigError, match="unknown config key 'layers'"):
        DnCNNConfig.from_dict({"layers": 3})


def test_lr_schedules():
    cosine = DnCNNConfig(lr_schedule="cosine", lr_min_ratio=0.1, warmup_steps=0)
    assert lr_factor(cosine, 0.0, 0) == pytest.approx(1.0)
    assert lr_factor(cosine, 0.5, 50) == pytest.approx(0.1 + 0.9 * 0.5)
    assert lr_factor(cosine, 1.0, 100) == pytest.approx(0.1)
    step = DnCNNConfig(lr_schedule="step", warmup_steps=0)
    assert [lr_factor(step, p, 0) for p in (0.49, 0.5, 0.8, 0.95)] == [1.0, 0.5, 0.25, 0.125]
    warm = DnCNNConfig(lr_schedule="constant", warmup_steps=10)
    assert lr_factor(warm, 0.0, 0) == pytest.approx(0.1)
    assert lr_factor(warm, 0.5, 9) == pytest.approx(1.0)
    assert math.isclose(lr_factor(warm, 0.9, 500), 1.0)
