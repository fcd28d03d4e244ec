import numpy as np
import pytest
import skimage.data
import torch
from torch.nn import functional as F

from senmvae.features import FEATURE_NAMES, EfficientNetLite0, WeightFileError, load_efficientnet_lite0
from senmvae.features.efficientnet_lite0 import FEATURE_CHANNELS

TABBY_TIGER_EGYPTIAN_CAT = {281, 282, 285}
CUP_ESPRESSO_COFFEE_MUG = {967, 968, 504}


@pytest.fixture(scope="module")
def net() -> EfficientNetLite0:
    return load_efficientnet_lite0()


def _imagenet_crop(photo: np.ndarray) -> torch.Tensor:
    """Shorter side to 256, centre 224x224 crop, in [0, 1]."""
    image = torch.from_numpy(photo).float().permute(2, 0, 1)[None] / 255
    h, w = image.shape[-2:]
    scale = 256 / min(h, w)
    image = F.interpolate(
        image, size=(round(h * scale), round(w * scale)), mode="bilinear", antialias=True, align_corners=False
    )
    h, w = image.shape[-2:]
    top, left = (h - 224) // 2, (w - 224) // 2
    return image[..., top : top + 224, left : left + 224]


def test_packaged_weights_classify_photos_correctly(net):
    photos = torch.cat([_imagenet_crop(skimage.data.chelsea()), _imagenet_crop(skimage.data.coffee())])
    with torch.no_grad():
        probs = net(photos).softmax(dim=-1)
    cat, coffee = probs.argmax(dim=-1).tolist()
    assert cat in TABBY_TIGER_EGYPTIAN_CAT
    assert coffee in CUP_ESPRESSO_COFFEE_MUG
    assert probs[0, sorted(TABBY_TIGER_EGYPTIAN_CAT)].sum() > 0.8
    assert probs[1, 967] > 0.8


def test_feature_maps_have_the_documented_channels_and_strides(net):
    images = torch.rand(2, 3, 64, 96)
    with torch.no_grad():
        feats = net.features(images)
    strides = {
        "stem": 2,
        "stage1": 2,
        "stage2": 4,
        "stage3": 8,
        "stage4": 16,
        "stage5": 16,
        "stage6": 32,
        "stage7": 32,
        "head": 32,
    }
    assert list(feats) == list(FEATURE_NAMES)
    for name, f in feats.items():
        assert f.shape == (2, FEATURE_CHANNELS[name], 64 // strides[name], 96 // strides[name]), name
    with torch.no_grad():
        only = net.features(images, ("stage3",))
        pooled = net.pooled(images)
    assert list(only) == ["stage3"]
    torch.testing.assert_close(only["stage3"], feats["stage3"])
    torch.testing.assert_close(pooled, feats["head"].mean(dim=(2, 3)))
    with pytest.raises(ValueError, match="unknown feature names"):
        net.features(images, ("stage9",))


def test_odd_sizes_pad_like_tensorflow(net):
    with torch.no_grad():
        feats = net.features(torch.rand(1, 3, 33, 17), ("stem", "stage2"))
    assert feats["stem"].shape[-2:] == (17, 9)  # ceil(size / 2)
    assert feats["stage2"].shape[-2:] == (9, 5)


def test_loaded_network_is_frozen(net):
    assert not net.training
    assert not any(p.requires_grad for p in net.parameters())


def test_wrong_weight_files_are_named(tmp_path):
    with pytest.raises(WeightFileError, match="missing.pth.*not found"):
        load_efficientnet_lite0(tmp_path / "missing.pth")
    other = tmp_path / "other.pth"
    torch.save({"conv.weight": torch.zeros(3)}, other)
    with pytest.raises(WeightFileError, match="other.pth: not EfficientNet-Lite0 weights"):
        load_efficientnet_lite0(other)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a torch file")
    with pytest.raises(WeightFileError, match="garbage.pth: cannot read"):
        load_efficientnet_lite0(garbage)
