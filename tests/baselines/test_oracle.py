import numpy as np
import pytest
import torch

from senmvae.baselines import RealNoiseOracle, load_baseline
from senmvae.data.io import read_image, write_image
from senmvae.errors import UserError


def _pair(seed, size=12):
    rng = np.random.default_rng(seed)
    clean = rng.random((size, size, 3)).astype(np.float32)
    return clean, np.clip(clean + 0.05 * rng.standard_normal(clean.shape), 0, 1).astype(np.float32)


def _batch(*images):
    return torch.stack([torch.from_numpy(image).permute(2, 0, 1) for image in images])


def test_oracle_returns_the_real_partner_of_each_known_clean_image():
    pairs = [_pair(0), _pair(1)]
    oracle = RealNoiseOracle.fit(pairs)
    noisy = oracle.sample(_batch(pairs[1][0], pairs[0][0]), level=0.3, temperature=2.0)
    assert torch.equal(noisy, _batch(pairs[1][1], pairs[0][1]))


def test_oracle_refuses_clean_images_without_a_real_partner():
    clean, _ = _pair(0)
    oracle = RealNoiseOracle.fit([_pair(0)])
    with pytest.raises(UserError, match="no real noisy partner for image 1"):
        oracle.sample(_batch(clean, clean[::-1].copy()))
    with pytest.raises(UserError, match="no real noisy partner"):
        oracle.sample(_batch(clean[:8, :8].copy()))


def test_oracle_saves_as_its_file_list(tmp_path):
    files = []
    for i in range(2):
        clean, noisy = _pair(i)
        files.append((write_image(tmp_path / f"{i}_clean.png", clean), write_image(tmp_path / f"{i}_noisy.png", noisy)))
    oracle = RealNoiseOracle.from_files(files)
    loaded = load_baseline(oracle.save(tmp_path / "oracle.json"))
    assert isinstance(loaded, RealNoiseOracle)
    clean = read_image(files[1][0])
    assert torch.equal(loaded.sample(_batch(clean)), _batch(read_image(files[1][1])))


def test_an_oracle_built_from_arrays_cannot_be_saved(tmp_path):
    with pytest.raises(UserError, match="from_files"):
        RealNoiseOracle.fit([_pair(0)]).save(tmp_path / "oracle.json")


def test_pairs_of_different_sizes_are_refused():
    clean, noisy = _pair(0)
    with pytest.raises(UserError, match="same size"):
        RealNoiseOracle.fit([(clean, noisy[:10])])
