import numpy as np
import pytest
import torch
from torch import nn

from senmvae.baselines import AWGN
from senmvae.downstream import (
    DnCNN,
    DnCNNConfig,
    MixedCrops,
    PairCrops,
    affordable_steps,
    denoise_image,
    evaluate_denoiser,
    seed_spread,
    synthesize_pairs,
    train_denoiser,
    training_crops,
)
from senmvae.errors import UserError
from senmvae.generate.seeding import stream_generator


def _smooth_images(count, size, seed):
    """Images made of a few low-frequency waves: easy to tell apart from white noise."""
    rng = np.random.default_rng(seed)
    grid = np.linspace(0, 1, size)
    yy, xx = np.meshgrid(grid, grid, indexing="ij")
    images = []
    for _ in range(count):
        channels = []
        for _ in range(3):
            fx, fy, phase = rng.uniform(0.5, 3, 2).tolist() + [rng.uniform(0, 6.3)]
            channels.append(0.5 + 0.35 * np.sin(2 * np.pi * (fx * xx + fy * yy) + phase))
        images.append(np.stack(channels, axis=-1).astype(np.float32))
    return images


def test_pair_crops_stay_aligned_under_flips_and_rotations():
    clean = _smooth_images(2, 20, 0)
    crops = PairCrops([(c, c + 0.125) for c in clean])
    noisy, clean_crops = crops(16, 8, torch.Generator().manual_seed(0))
    assert noisy.shape == clean_crops.shape == (16, 3, 8, 8)
    torch.testing.assert_close(noisy - clean_crops, torch.full_like(noisy, 0.125))


def test_mixed_crops_split_each_batch_in_proportion():
    clean = _smooth_images(1, 16, 0)[0]
    real = PairCrops([(clean, np.clip(clean + 0.25, 0, 1))])
    synthetic = PairCrops([(clean, clean)])
    mixed = MixedCrops([(synthetic, 0.75), (real, 0.25)])
    assert mixed.counts(8) == [6, 2]
    assert sum(mixed.counts(7)) == 7
    noisy, clean_crops = mixed(8, 4, torch.Generator().manual_seed(0))
    synthesized_rows = (noisy == clean_crops).flatten(1).all(dim=1)
    assert synthesized_rows.tolist() == [True] * 6 + [False] * 2


def test_training_modes_use_the_synthetic_pairs_alone_or_mixed_with_the_paired_ones():
    clean = _smooth_images(2, 16, 0)
    synthetic = [(c, c) for c in clean]
    paired = [(c, np.clip(c + 0.25, 0, 1)) for c in clean]
    alone = training_crops("synthetic", synthetic, paired)
    noisy, crops = alone(8, 4, torch.Generator().manual_seed(0))
    assert isinstance(alone, PairCrops) and torch.equal(noisy, crops)
    mixed = training_crops("synthetic+paired", synthetic, paired, paired_fraction=0.25)
    assert isinstance(mixed, MixedCrops) and mixed.counts(8) == [6, 2]
    with pytest.raises(UserError, match="synthetic, synthetic\\+paired"):
        training_crops("paired", synthetic, paired)
    with pytest.raises(UserError, match="needs real paired images"):
        training_crops("synthetic+paired", synthetic)


def test_a_pool_holds_draws_noisy_versions_of_each_image_each_from_its_own_stream():
    clean = _smooth_images(3, 12, 0)
    names = ["a", "b", "c"]
    pool = synthesize_pairs(AWGN(std=0.1, clip=False), clean, names, draws=2, seed=5, levels=[0.01, 0.02, 0.05])
    assert len(pool) == 6 and all(pool[2 * i][0] is pool[2 * i + 1][0] for i in range(3))
    # draw d of image "b" is the AWGN draw of its own stream at its own level, clipped to [0, 1]
    for d in range(2):
        expected = 0.02 * torch.randn((3, 12, 12), generator=stream_generator(5, "b", d))
        expected = (torch.from_numpy(clean[1]).permute(2, 0, 1) + expected).clamp(0, 1).permute(1, 2, 0).numpy()
        np.testing.assert_allclose(pool[2 + d][1], expected, atol=1e-6)
    assert not np.array_equal(pool[2][1], pool[3][1])
    reordered = synthesize_pairs(AWGN(std=0.1), clean[::-1], names[::-1], draws=2, seed=5, levels=[0.05, 0.02, 0.01])
    np.testing.assert_array_equal(reordered[2][1], pool[2][1])  # an image's noise does not depend on the order
    with pytest.raises(UserError, match="at least 1"):
        synthesize_pairs(AWGN(std=0.1), clean, names, draws=0, seed=0)
    with pytest.raises(UserError, match="one name"):
        synthesize_pairs(AWGN(std=0.1), clean, names[:2], draws=1, seed=0)


def test_evaluate_matches_hand_computed_psnr():
    clean = np.full((15, 18, 3), 0.5, dtype=np.float32)
    noisy = clean + 0.1
    model = DnCNN(DnCNNConfig(depth=3, width=4, unshuffle=2, crop=8))
    identity = evaluate_denoiser(model, [(clean, noisy)])
    assert identity["input_psnr"] == pytest.approx(20.0, abs=1e-4)  # MSE 0.01
    assert identity["psnr"] == pytest.approx(20.0, abs=1e-4)
    # a residual DnCNN whose output conv only carries a bias of 0.05 subtracts 0.05 everywhere: MSE 0.0025
    nn.init.constant_(model.head.bias, 0.05)
    shifted = evaluate_denoiser(model, [(clean, noisy)])
    assert shifted["psnr"] == pytest.approx(10 * np.log10(1 / 0.0025), abs=1e-4)
    # flat images have no variance, so SSIM is its luminance term (2 m1 m2 + C1) / (m1^2 + m2^2 + C1), C1 = 0.01^2
    assert identity["ssim"] == pytest.approx((2 * 0.6 * 0.5 + 1e-4) / (0.6**2 + 0.5**2 + 1e-4), abs=1e-6)
    assert shifted["ssim"] == pytest.approx((2 * 0.55 * 0.5 + 1e-4) / (0.55**2 + 0.5**2 + 1e-4), abs=1e-6)
    assert denoise_image(model, noisy).shape == noisy.shape  # the odd height is padded, then cropped back


def test_training_is_reproducible_and_stops_at_the_time_budget():
    clean = _smooth_images(2, 24, 0)
    crops = PairCrops(synthesize_pairs(AWGN(std=0.1), clean, ["a", "b"], draws=2, seed=0))
    config = DnCNNConfig(depth=3, width=4, unshuffle=1, crop=8, batch_size=2, steps=3, seed=4)
    first, _ = train_denoiser(config, crops, progress=False)
    second, history = train_denoiser(config, crops, progress=False)
    assert history.steps == 3 and history.step == [0, 2]
    for a, b in zip(first.parameters(), second.parameters()):
        assert torch.equal(a, b)
    _, stopped = train_denoiser(config.replace(time_budget_s=0.0), crops, progress=False)
    assert stopped.steps == 0 and stopped.stopped_by_time


def test_a_tiny_dncnn_learns_to_remove_gaussian_noise():
    noise = AWGN(std=0.1)
    crops = PairCrops(synthesize_pairs(noise, _smooth_images(8, 48, 0), [str(i) for i in range(8)], draws=4, seed=0))
    config = DnCNNConfig(depth=4, width=16, unshuffle=1, crop=24, batch_size=8, steps=120, lr=3e-3, warmup_steps=5)
    model, history = train_denoiser(config, crops, progress=False)
    test_clean = _smooth_images(4, 48, 1)
    generator = torch.Generator().manual_seed(9)
    test_pairs = []
    for image in test_clean:
        noisy = noise.sample(torch.from_numpy(image).permute(2, 0, 1)[None], generator=generator)
        test_pairs.append((image, noisy[0].permute(1, 2, 0).numpy()))
    scores = evaluate_denoiser(model, test_pairs)
    assert history.loss[-1] < history.loss[0]
    assert scores["psnr"] - scores["input_psnr"] > 3.0
    assert scores["ssim"] > scores["input_ssim"]


def test_affordable_steps_is_the_configured_steps_unless_the_time_is_too_short():
    crops = PairCrops([(c, c) for c in _smooth_images(2, 16, 0)])
    config = DnCNNConfig(depth=3, width=4, unshuffle=1, crop=8, batch_size=2, steps=7)
    assert affordable_steps(config, crops, seconds=1e9, denoisers=3, probe=2) == 7
    assert affordable_steps(config, crops, seconds=0.0, denoisers=3, probe=2) == 1


def test_seed_spread_is_mean_sample_std_and_range():
    spread = seed_spread([1.0, 2.0, 4.0])
    assert spread["mean"] == pytest.approx(7 / 3) and (spread["min"], spread["max"]) == (1.0, 4.0)
    assert spread["std"] == pytest.approx(np.sqrt(((1 - 7 / 3) ** 2 + (2 - 7 / 3) ** 2 + (4 - 7 / 3) ** 2) / 2))
    assert "std" not in seed_spread([3.0])
