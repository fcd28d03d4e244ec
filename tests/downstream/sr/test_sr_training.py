import math

import numpy as np
import pytest
import torch

from senmvae.baselines import AWGN
from senmvae.data.refs import bicubic_downsample
from senmvae.downstream.sr import (
    Bicubic,
    NoiseOnBicubic,
    RealSRCrops,
    RRDBConfig,
    SecondOrder,
    SRTrainConfig,
    SynthesizedSRCrops,
    evaluate_sr,
    fidelity_scores,
    luma,
    train_sr,
)
from senmvae.downstream.sr.evaluate import bicubic_upsample
from senmvae.errors import UserError
from tests.data.builders import image

TINY = RRDBConfig(features=8, growth=4, blocks=1)


def _hr(count=3, h=64, w=48):
    return [image(i, h, w).astype(np.float32) for i in range(count)]


def test_synthesized_crops_pair_each_hr_crop_with_the_matching_crop_of_its_bicubic_downsampling():
    hr = _hr()
    crops = SynthesizedSRCrops(Bicubic(), hr, scale=4)
    low, high = crops(6, 8, torch.Generator().manual_seed(0))
    assert low.shape == (6, 3, 8, 8) and high.shape == (6, 3, 32, 32)
    assert torch.equal(low, torch.round(low * 255) / 255)
    for lr_crop, hr_crop in zip(low, high):
        own = torch.from_numpy(bicubic_downsample(hr_crop.permute(1, 2, 0).numpy(), 4)).permute(2, 0, 1)
        # the bicubic kernel reaches 2 LR pixels past a crop's edge: compare the interior
        assert (lr_crop[:, 2:-2, 2:-2] - own[:, 2:-2, 2:-2]).abs().max() <= 1.5 / 255


def test_noise_and_second_order_degradations_make_lr_images_of_the_right_size():
    hr = _hr()
    generator = torch.Generator().manual_seed(0)
    noisy, _ = SynthesizedSRCrops(NoiseOnBicubic(AWGN(0.05)), hr, 4)(4, 8, generator)
    clean, _ = SynthesizedSRCrops(Bicubic(), hr, 4)(4, 8, torch.Generator().manual_seed(0))
    assert float((noisy - clean).std()) == pytest.approx(0.05, rel=0.15)
    second, high = SynthesizedSRCrops(SecondOrder(scale=4), hr, 4)(2, 8, generator)
    assert second.shape == (2, 3, 8, 8) and high.shape == (2, 3, 32, 32)


def test_real_crops_refuse_an_hr_image_smaller_than_scale_times_its_lr_image():
    low = np.zeros((10, 10, 3), np.float32)
    with pytest.raises(UserError, match="smaller than 4 x"):
        RealSRCrops([(low, np.zeros((39, 40, 3), np.float32))], 4)


def test_training_lowers_the_loss_and_is_reproducible():
    hr = _hr()
    crops = SynthesizedSRCrops(Bicubic(), hr, 4)
    cfg = SRTrainConfig(
        rrdb=RRDBConfig(features=8, growth=4, blocks=1, interpolation_skip=False),
        batch_size=4,
        lr_crop=8,
        steps=60,
        lr=2e-3,
        warmup_steps=2,
    )
    model, history = train_sr(cfg, crops, log_every=5, progress=False)
    assert history.steps == 60 and np.mean(history.loss[-3:]) < 0.6 * history.loss[0]
    again, _ = train_sr(cfg, crops, log_every=5, progress=False)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))


def test_perceptual_and_relativistic_gan_terms_train_too():
    cfg = SRTrainConfig(
        rrdb=TINY, batch_size=2, lr_crop=8, steps=2, perceptual="effnet", perceptual_weight=0.1, gan_weight=5e-3
    )
    _, history = train_sr(cfg, SynthesizedSRCrops(Bicubic(), _hr(), 4), log_every=1, progress=False)
    assert history.steps == 2 and all(math.isfinite(v) for v in history.loss)


def test_y_psnr_and_ssim_follow_the_bt601_studio_range_definition():
    white, black = torch.ones(1, 3, 2, 2), torch.zeros(1, 3, 2, 2)
    assert torch.allclose(luma(white), torch.full_like(white, 235 / 255))
    assert torch.allclose(luma(black), torch.full_like(black, 16 / 255))
    hr = np.full((32, 32, 3), 100 / 255)
    out = np.full((32, 32, 3), 125 / 255)
    scores = fidelity_scores(out, hr, border=0)
    assert scores["psnr_rgb"] == pytest.approx(20 * math.log10(255 / 25))
    assert scores["psnr_y"] == pytest.approx(20 * math.log10(255 * 255 / (25 * 219)))
    garbage = out.copy()
    garbage[:4] = 0.0
    assert fidelity_scores(garbage, hr, border=4) == pytest.approx(fidelity_scores(out, hr, border=4))
    assert fidelity_scores(garbage, hr, border=0)["psnr_rgb"] < scores["psnr_rgb"]


def test_evaluation_scores_a_model_and_bicubic_interpolation_on_pairs():
    hr = _hr(2)
    pairs = [(bicubic_downsample(h, 4), h) for h in hr]
    cfg = SRTrainConfig(rrdb=TINY, steps=1, lr_crop=8, batch_size=2)
    model, _ = train_sr(cfg, SynthesizedSRCrops(Bicubic(), hr, 4), progress=False)
    scores, outputs = evaluate_sr(model, pairs, border=4)
    interpolated, interpolations = evaluate_sr(None, pairs, border=4)
    assert outputs[0].shape == hr[0].shape and set(scores) == {"psnr_y", "ssim_y", "psnr_rgb", "ssim_rgb"}
    per_image = [fidelity_scores(o, h, 4)["psnr_y"] for o, h in zip(outputs, hr)]
    assert scores["psnr_y"] == pytest.approx(np.mean(per_image))
    low, high = pairs[0]
    assert np.allclose(interpolations[0], bicubic_upsample(low, high.shape[:2]))
    assert interpolated["psnr_y"] > 35  # smooth images: interpolation is close
