import numpy as np
import pytest
import torch

from senmvae.features import FIDInceptionV3, WeightFileError, load_fid_inception
from senmvae.metrics import fid_inception, inception_statistics

# Shapes of a few tensors of pytorch-fid's pt_inception-2015-12-05-6726825d.pth
KNOWN_SHAPES = {
    "Conv2d_1a_3x3.conv.weight": (32, 3, 3, 3),
    "Conv2d_4a_3x3.bn.running_var": (192,),
    "Mixed_5b.branch_pool.conv.weight": (32, 192, 1, 1),
    "Mixed_6b.branch7x7_2.conv.weight": (128, 128, 1, 7),
    "Mixed_7a.branch3x3_2.conv.weight": (320, 192, 3, 3),
    "Mixed_7c.branch3x3dbl_3b.conv.weight": (384, 384, 3, 1),
    "Mixed_7c.branch_pool.conv.weight": (192, 2048, 1, 1),
}


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory):
    torch.manual_seed(0)
    net = FIDInceptionV3()
    state = net.state_dict()
    for key, value in state.items():  # randomise the BN statistics too, so that loading them matters
        if key.endswith("running_mean") or key.endswith(".bias"):
            value.copy_(0.1 * torch.randn_like(value))
        elif key.endswith("running_var") or key.endswith("bn.weight"):
            value.copy_(0.5 + torch.rand_like(value))
    state["fc.weight"] = torch.zeros(1008, 2048)  # the real file carries the 1008-class classifier
    state["fc.bias"] = torch.zeros(1008)
    path = tmp_path_factory.mktemp("fid") / "pt_inception-2015-12-05-random.pth"
    torch.save(state, path)
    return net.eval(), path


def test_key_layout_matches_the_pytorch_fid_file():
    state = FIDInceptionV3().state_dict()
    for key, shape in KNOWN_SHAPES.items():
        assert tuple(state[key].shape) == shape, key
    assert not any(k.startswith("AuxLogits") for k in state)


def test_random_weights_load_and_give_pool3_features(random_weights):
    source, path = random_weights
    net = load_fid_inception(path)
    assert not net.training and not any(p.requires_grad for p in net.parameters())
    images = torch.rand(2, 3, 40, 56)
    with torch.no_grad():
        feats = net(images)
        expected = source(images)
        unloaded = FIDInceptionV3().eval()(images)
    assert feats.shape == (2, 2048)
    torch.testing.assert_close(feats, expected)
    assert torch.all(feats >= 0)  # averages of ReLU outputs
    assert not torch.allclose(feats, unloaded, rtol=1e-3, atol=1e-6)


def test_inception_statistics_average_pool3_features(random_weights):
    source, path = random_weights
    images = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    stats = inception_statistics(images, path, batch_size=2)
    with torch.no_grad():
        expected = source(images).double()
    assert stats.count == 3 and stats.cov.shape == (2048, 2048)
    np.testing.assert_allclose(stats.mean, expected.mean(dim=0).numpy(), rtol=1e-5, atol=1e-7)


@pytest.mark.slow  # one 2048x2048 matrix square root: ~25 s on a busy 2-core CPU
def test_fid_inception_compares_image_sets(random_weights):
    _, path = random_weights
    g = torch.Generator().manual_seed(2)
    a, b = torch.rand(3, 3, 32, 32, generator=g), torch.rand(3, 3, 32, 32, generator=g)
    value = fid_inception(a, b, path)
    assert np.isfinite(value) and value > 0


def test_wrong_inception_file_is_named(tmp_path):
    torch.save({"Conv2d_1a_3x3.conv.weight": torch.zeros(32, 3, 3, 3)}, tmp_path / "partial.pth")
    with pytest.raises(WeightFileError, match="partial.pth: not FID Inception-v3 weights.*missing"):
        load_fid_inception(tmp_path / "partial.pth")
