import pytest
import torch
from torch.nn import functional as F

from senmvae.config import ConfigError
from senmvae.downstream import parameter_count
from senmvae.downstream.sr import RRDBConfig, RRDBNet


def test_the_network_upscales_by_its_scale_with_pixel_shuffle():
    low = torch.rand(2, 3, 6, 5)
    for scale in (2, 4):
        net = RRDBNet(RRDBConfig(features=8, growth=4, blocks=1, scale=scale))
        assert net(low).shape == (2, 3, 6 * scale, 5 * scale)
        assert sum(isinstance(m, torch.nn.PixelShuffle) for m in net.modules()) == {2: 1, 4: 2}[scale]


def test_sizes_come_from_the_config():
    small = parameter_count(RRDBNet(RRDBConfig(features=8, growth=4, blocks=1)))
    deeper = parameter_count(RRDBNet(RRDBConfig(features=8, growth=4, blocks=2)))
    # one RRDB = 3 dense blocks of 4 growth convs and a fusing conv, 3x3 with biases
    per_rrdb = 3 * (sum((8 + 4 * i) * 4 * 9 + 4 for i in range(4)) + (8 + 16) * 8 * 9 + 8)
    assert deeper - small == per_rrdb


def test_untrained_network_with_the_interpolation_skip_is_bicubic_interpolation():
    low = torch.rand(1, 3, 7, 9)
    net = RRDBNet(RRDBConfig(features=8, growth=4, blocks=1, interpolation_skip=True))
    expected = F.interpolate(low, scale_factor=4, mode="bicubic", align_corners=False)
    assert torch.allclose(net(low), expected, atol=1e-6)
    plain = RRDBNet(RRDBConfig(features=8, growth=4, blocks=1, interpolation_skip=False))
    assert not torch.allclose(plain(low), expected, atol=1e-3)


def test_a_scale_that_pixel_shuffle_cannot_make_is_refused():
    with pytest.raises(ConfigError, match="power of 2"):
        RRDBConfig(scale=3)
