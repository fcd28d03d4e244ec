import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from senmvae.baselines.gaussian import AWGN
from senmvae.errors import UserError
from senmvae.generate import NoiseModel, SyntheticPairs, stream_generator
from tests.generate.helpers import smooth_image, stochastic_tiny, write_clean_folder


class InMemory:
    def __init__(self, name, image):
        self.name, self.image = name, image

    def load(self):
        return self.image


@pytest.fixture(scope="module")
def model():
    return NoiseModel(stochastic_tiny(), level="0.01:0.05")


def test_items_are_crops_with_the_noise_of_their_own_stream(tmp_path, model):
    folder = write_clean_folder(tmp_path, [(40, 50), (36, 36)])
    pairs = SyntheticPairs(folder, model, crop=24, crops_per_image=3, seed=5)
    assert len(pairs) == 6
    noisy, clean = pairs[4]  # image 1 ("img1"), crop 1
    assert noisy.shape == clean.shape == (3, 24, 24) and noisy.dtype == torch.float32
    generator = stream_generator(5, "img1", 1)
    top, left = (int(torch.randint(36 - 24 + 1, (), generator=generator)) for _ in range(2))
    image = torch.from_numpy(smooth_image(36, 36, seed=1)).permute(2, 0, 1)
    stored = torch.from_numpy(np.round(image.numpy() * 255) / 255).float()  # the PNG is 8-bit
    torch.testing.assert_close(clean, stored[:, top : top + 24, left : left + 24], atol=1e-6, rtol=0)
    expected = model.sample(clean[None], generator=[generator])[0].clamp(0, 1)
    torch.testing.assert_close(noisy, expected, atol=1e-5, rtol=0)


def test_items_are_reproducible_and_change_with_the_epoch(model):
    images = [InMemory(f"im{i}", smooth_image(32, 40, seed=i)) for i in range(2)]
    pairs = SyntheticPairs(images, model, crop=16, seed=1, augment=True)
    first = [pairs[i] for i in (1, 0)]
    again = [pairs[i] for i in (1, 0)]
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(first, again))
    pairs.set_epoch(1)
    assert not torch.equal(pairs[1][0], first[0][0])


def test_an_ordinary_dataloader_batches_the_pairs(model):
    images = [InMemory(f"im{i}", smooth_image(32, 32, seed=i)) for i in range(5)]
    loader = DataLoader(SyntheticPairs(images, model, crop=16), batch_size=2, shuffle=True)
    shapes = [(tuple(noisy.shape), tuple(clean.shape)) for noisy, clean in loader]
    assert shapes == [((2, 3, 16, 16),) * 2] * 2 + [((1, 3, 16, 16),) * 2]
    noisy, _ = next(iter(loader))
    assert noisy.min() >= 0 and noisy.max() <= 1


def test_any_noise_source_works():
    images = [InMemory("a", np.full((20, 20, 3), 0.5, np.float32))]
    noisy, clean = SyntheticPairs(images, AWGN(0.1, clip=False), crop=20, clip=False)[0]
    assert abs(float((noisy - clean).std()) - 0.1) < 0.01


def test_images_smaller_than_the_crop_are_named(model):
    pairs = SyntheticPairs([InMemory("small", np.zeros((10, 30, 3), np.float32))], model, crop=16)
    with pytest.raises(UserError, match="small is 10x30"):
        pairs[0]
    with pytest.raises(UserError, match="no clean images"):
        SyntheticPairs([], model)
