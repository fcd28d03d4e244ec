import pytest
import torch
from torch.nn import functional as F

from senmvae.errors import UserError
from senmvae.features import LPIPS, DeepFeatureDistance, WeightFileError, build_perceptual_loss
from senmvae.metrics import lpips_alex

ALEX_CONVS = {0: (64, 3, 11), 3: (192, 64, 5), 6: (384, 192, 3), 8: (256, 384, 3), 10: (256, 256, 3)}


@pytest.fixture(scope="module")
def feature_distance() -> DeepFeatureDistance:
    return DeepFeatureDistance()


def _images(seed: int, n: int = 2, size: int = 48) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(0, 6, size), torch.linspace(0, 6, size), indexing="ij")
    phase = 6.3 * torch.rand((n, 3, 1, 1), generator=g)
    return 0.5 + 0.3 * torch.sin(xx + phase) * torch.cos(0.7 * yy)


def test_deep_feature_distance_grows_with_noise(feature_distance):
    clean = _images(0)
    g = torch.Generator().manual_seed(1)
    noise = torch.randn(clean.shape, generator=g)
    with torch.no_grad():
        same = feature_distance(clean, clean)
        small = feature_distance(clean + 0.02 * noise, clean)
        large = feature_distance(clean + 0.1 * noise, clean)
    assert same.shape == (2,)
    assert torch.all(same.abs() < 1e-10)
    assert torch.all(small > 0) and torch.all(large > 2 * small)
    assert torch.all(large <= 4.0)  # squared distance of unit vectors


def test_deep_feature_distance_is_differentiable_and_stays_frozen(feature_distance):
    feature_distance.train()
    assert not feature_distance.training and not feature_distance.backbone.training
    recon = (_images(2) + 0.05).requires_grad_(True)
    loss = feature_distance(recon, _images(2)).mean()
    loss.backward()
    assert recon.grad is not None and recon.grad.abs().sum() > 0
    assert all(p.grad is None for p in feature_distance.parameters())


def _random_lpips_files(tmp_path):
    g = torch.Generator().manual_seed(0)
    alexnet = {}
    for index, (cout, cin, k) in ALEX_CONVS.items():
        alexnet[f"features.{index}.weight"] = 0.05 * torch.randn((cout, cin, k, k), generator=g)
        alexnet[f"features.{index}.bias"] = 0.01 * torch.randn(cout, generator=g)
    alexnet["classifier.6.bias"] = torch.zeros(1000)  # torchvision's file also holds the classifier
    linear = {
        f"lin{i}.model.1.weight": torch.rand((1, c, 1, 1), generator=g)
        for i, (c, _, _) in enumerate(ALEX_CONVS.values())
    }
    torch.save(alexnet, tmp_path / "alexnet-owt.pth")
    torch.save(linear, tmp_path / "alex.pth")
    return tmp_path / "alexnet-owt.pth", tmp_path / "alex.pth", alexnet, linear


def _lpips_by_hand(a, b, alexnet, linear):
    shift = torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1)
    scale = torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1)
    xs = [(2 * a - 1 - shift) / scale, (2 * b - 1 - shift) / scale]
    total = torch.zeros(a.shape[0])
    settings = {0: (4, 2, False), 3: (1, 2, True), 6: (1, 1, True), 8: (1, 1, False), 10: (1, 1, False)}
    for layer, (index, (stride, pad, pool)) in enumerate(settings.items()):
        for j in range(2):
            if pool:
                xs[j] = F.max_pool2d(xs[j], 3, 2)
            xs[j] = F.relu(
                F.conv2d(xs[j], alexnet[f"features.{index}.weight"], alexnet[f"features.{index}.bias"], stride, pad)
            )
        na, nb = (x / (x.pow(2).sum(1, keepdim=True).sqrt() + 1e-10) for x in xs)
        total += ((na - nb) ** 2 * linear[f"lin{layer}.model.1.weight"]).sum(1).mean(dim=(1, 2))
    return total


def test_lpips_matches_its_definition_with_random_weights(tmp_path):
    backbone, linear_path, alexnet, linear = _random_lpips_files(tmp_path)
    lpips = LPIPS.from_files(backbone, linear_path)
    a, b = _images(3, size=64), _images(4, size=64)
    with torch.no_grad():
        value = lpips(a, b)
    torch.testing.assert_close(value, _lpips_by_hand(a, b, alexnet, linear), rtol=1e-4, atol=1e-7)
    assert torch.all(lpips(a, a) == 0)
    torch.testing.assert_close(lpips_alex(a, b, backbone, linear_path), value)


def test_lpips_refuses_files_of_the_wrong_layout(tmp_path):
    backbone, linear_path, alexnet, linear = _random_lpips_files(tmp_path)
    with pytest.raises(WeightFileError, match="alexnet-owt.pth: not LPIPS AlexNet linear-layer"):
        LPIPS.from_files(backbone, backbone)
    linear["lin2.model.1.weight"] = torch.zeros(1, 100, 1, 1)
    torch.save(linear, tmp_path / "bad_lin.pth")
    with pytest.raises(WeightFileError, match="wrong shapes: 2 "):
        LPIPS.from_files(backbone, tmp_path / "bad_lin.pth")


def test_build_perceptual_loss(tmp_path):
    assert build_perceptual_loss("none") is None
    assert isinstance(build_perceptual_loss("effnet"), DeepFeatureDistance)
    backbone, linear_path, _, _ = _random_lpips_files(tmp_path)
    assert isinstance(build_perceptual_loss("lpips", backbone, linear_path), LPIPS)
    with pytest.raises(UserError, match="lpips_backbone_path"):
        build_perceptual_loss("lpips", lpips_linear_path=linear_path)
    with pytest.raises(UserError, match="unknown perceptual loss 'vgg'"):
        build_perceptual_loss("vgg")
