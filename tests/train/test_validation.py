import numpy as np
import torch

from senmvae.data import load_spec
from senmvae.model import SeNMVAE, model_preset
from senmvae.train.validation import GRID_GAP, ValidationSet, evaluate, load_validation_set, validation_grid


def test_centre_crops_share_one_side_that_the_model_accepts(pairs_dir):
    pairs = load_spec(pairs_dir).paired
    data = load_validation_set(pairs, count=3, crop=35, multiple=4)
    assert data.clean.shape == data.noisy.shape == (3, 3, 32, 32)
    full = torch.from_numpy(pairs[0].clean.load()).permute(2, 0, 1)
    assert torch.equal(data.clean[0], full[:, 4:36, 4:36])  # centre of 40x40
    assert load_validation_set([], count=3, crop=32, multiple=4) is None


def test_grid_rows_hold_clean_noisy_synthetic_and_noise_maps():
    clean = torch.full((2, 3, 4, 4), 0.5)
    noisy = clean.clone()
    noisy[:, :, 0, 0] += 0.1
    synthetic = clean.clone()
    grid = validation_grid(clean, noisy, synthetic)
    assert grid.shape == (2 * 4 + GRID_GAP, 5 * 4 + 4 * GRID_GAP, 3)
    step = 4 + GRID_GAP
    tiles = [grid[:4, c * step : c * step + 4] for c in range(5)]
    assert np.allclose(tiles[0], 0.5) and np.allclose(tiles[2], 0.5)
    assert np.isclose(tiles[1][0, 0, 0], 0.6)
    assert np.allclose(tiles[4], 0.5)  # no synthetic noise: flat grey
    assert tiles[3][0, 0, 0] > 0.5 and np.allclose(tiles[3][1:, :, :], 0.5)
    assert np.all(grid[4 : 4 + GRID_GAP] == 1.0)  # white gap between rows


def test_evaluation_is_repeatable_for_a_seed():
    torch.manual_seed(0)
    model = SeNMVAE(model_preset("tiny"))
    g = torch.Generator().manual_seed(1)
    clean = torch.rand(2, 3, 16, 16, generator=g)
    data = ValidationSet(clean, (clean + 0.05 * torch.randn(clean.shape, generator=g)).clamp(0, 1))
    first, grid = evaluate(model, data, seed=3)
    again, _ = evaluate(model, data, seed=3)
    assert first == again and set(first) == {"noise_kl", "psnr_recon"}
    assert np.isfinite(list(first.values())).all() and grid.shape[2] == 3
