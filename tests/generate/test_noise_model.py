import numpy as np
import pytest
import torch
from PIL import Image

from senmvae.data.io import write_image
from senmvae.errors import UserError
from senmvae.generate import ChoiceLevel, FixedLevel, NoiseModel, UniformLevel, stream_generator
from senmvae.generate.tiling import tile_weights
from senmvae.model import SeNMVAE, model_preset, save_model
from senmvae.noise_level import noise_level
from tests.conftest import OFFICIAL_FIXTURE, require
from tests.generate.helpers import save_run, smooth_image, stochastic_tiny


@pytest.fixture(scope="module")
def net():
    return stochastic_tiny()


def generators(*seeds):
    return [torch.Generator().manual_seed(s) for s in seeds]


def test_each_output_depends_only_on_its_own_generator(net):
    clean = torch.from_numpy(np.stack([smooth_image(40, 56, s) for s in range(3)])).permute(0, 3, 1, 2)
    for exact in (True, False):
        model = NoiseModel(net, level="0.01:0.08", exact=exact)
        batch = model.sample(clean, generator=generators(10, 11, 12))
        alone = torch.cat([model.sample(clean[i : i + 1], generator=generators(10 + i)) for i in (2, 0, 1)])
        alone = alone[[1, 2, 0]]
        if exact:
            assert torch.equal(batch, alone)
        else:
            torch.testing.assert_close(batch, alone, atol=1e-5, rtol=0)
        assert not torch.allclose(batch[0], model.sample(clean[:1], generator=generators(99))[0], atol=1e-3)


def test_exact_mode_does_not_depend_on_the_thread_count(net):
    clean = torch.from_numpy(smooth_image(48, 48)).permute(2, 0, 1)
    model = NoiseModel(net, level=0.04, exact=True)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = model.sample(clean, generator=generators(5))
        torch.set_num_threads(2)
        two = model.sample(clean, generator=generators(5))
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(one, two)


def test_the_level_comes_from_the_images_stream(net):
    model = NoiseModel(net, level=UniformLevel(0.01, 0.09))
    clean = torch.rand(2, 3, 16, 16)
    _, levels = model.sample_with_levels(clean, generator=[stream_generator(0, "a", 0), stream_generator(0, "b", 0)])
    assert levels == [model.stream_level(stream_generator(0, n, 0)) for n in ("a", "b")]
    assert levels[0] != levels[1] and all(0.01 <= v <= 0.09 for v in levels)
    _, given = model.sample_with_levels(clean, level=[0.02, 0.03], generator=generators(1, 2))
    assert given == [0.02, 0.03]


def test_the_level_conditions_the_noise(net):
    model = NoiseModel(net)
    clean = torch.full((1, 3, 32, 32), 0.5)
    low, high = (model.sample(clean, level=v, generator=generators(3)) for v in (0.0, 0.5))
    assert not torch.allclose(low, high, atol=1e-3)


def test_numpy_pil_and_tensor_in_their_own_form(net):
    # exact: separate calls compare bit for bit (fast kernels vary by ~1e-6 between calls,
    # which can flip a rounded 8-bit value)
    model = NoiseModel(net, level=0.03, exact=True)
    array = (smooth_image(24, 40) * 255).astype(np.uint8)
    out = model.sample(array, generator=generators(0))
    assert isinstance(out, np.ndarray) and out.shape == (24, 40, 3) and out.dtype == np.float32
    from_float = model.sample(array.astype(np.float32) / 255, generator=generators(0))
    np.testing.assert_allclose(out, from_float, atol=1e-6)
    pil = model.sample(Image.fromarray(array), generator=generators(0))
    assert isinstance(pil, Image.Image) and pil.size == (40, 24) and pil.mode == "RGB"
    np.testing.assert_array_equal(np.asarray(pil), np.round(np.clip(out, 0, 1) * 255).astype(np.uint8))
    single = model.sample(torch.from_numpy(array).permute(2, 0, 1) / 255.0, generator=generators(0))
    assert single.shape == (3, 24, 40)
    with pytest.raises(UserError, match=r"\(H, W, 3\)"):
        model.sample(np.zeros((8, 8)))


def test_tensors_arrays_and_pil_images_are_scaled_alike_by_dtype(net):
    model = NoiseModel(net, level=0.03, exact=True)
    float_image = np.round(smooth_image(16, 24) * 255) / 255  # exactly representable in 8 bits
    expected = model.sample(float_image, generator=generators(0))
    as_uint8 = np.round(float_image * 255).astype(np.uint8)
    as_uint16 = np.round(float_image * 65535).astype(np.uint16)
    for image in (as_uint8, as_uint16, torch.from_numpy(as_uint8), torch.from_numpy(as_uint16)):
        out = model.sample(
            image.permute(2, 0, 1) if isinstance(image, torch.Tensor) else image, generator=generators(0)
        )
        out = out.permute(1, 2, 0).numpy() if isinstance(out, torch.Tensor) else out
        np.testing.assert_allclose(out, expected, atol=1e-5, err_msg=str(image.dtype))


def test_a_16_bit_pil_image_is_read_at_16_bits(net):
    model = NoiseModel(net, level=0.03)
    grey = np.full((16, 24), 30000, dtype=np.uint16)  # 0.458: an 8-bit reading would clip it to white
    image = Image.fromarray(grey)
    assert image.mode.startswith("I;16")
    out = model.sample(image, temperature=0)
    expected = model.sample(np.repeat(grey[..., None], 3, axis=2) / 65535.0, temperature=0)
    np.testing.assert_array_equal(np.asarray(out), np.round(np.clip(expected, 0, 1) * 255).astype(np.uint8))
    assert np.asarray(out).mean() < 200


@pytest.mark.parametrize(
    ("clean", "message"),
    [
        (torch.full((1, 3, 8, 8), 128.0), r"\[0, 1\], got values from 128 to 128 \(8-bit values: divide by 255"),
        (np.full((8, 8, 3), -0.5, np.float32), r"\[0, 1\], got values from -0.5"),
        (torch.rand(1, 1, 8, 8), "got 1 channel in shape"),
        (np.random.rand(8, 8, 4), "got 4 channels in shape"),
        (torch.rand(2, 8, 8, 3), r"channels-last: reorder it with .permute\(0, 3, 1, 2\)"),
        (np.random.rand(3, 8, 8), r"channels-first: reorder it with .transpose\(1, 2, 0\)"),
        (torch.rand(0, 3, 8, 8), "empty batch"),
        (torch.rand(1, 3, 0, 0), "0x0 pixels"),
        (np.zeros((0, 5, 3)), "0x5 pixels"),
        (torch.rand(8, 8), r"must be \(3, H, W\) or \(B, 3, H, W\), got shape \(8, 8\)"),
        (torch.zeros(1, 3, 8, 8, dtype=torch.int64), "dtype int64 are not accepted"),
        (np.zeros((8, 8, 3), bool), "dtype bool are not accepted"),
        (torch.tensor([0.5, float("nan"), 0.5, 0.5, 0.5, 0.5]).view(1, 3, 1, 2), "1 NaN or infinite value,"),
        (np.full((4, 4, 3), np.inf, np.float32), "48 NaN or infinite values"),
        ([[0.5]], "pass a torch tensor, numpy array or PIL image"),
    ],
)
def test_inputs_outside_the_contract_get_one_user_error_each(net, clean, message):
    with pytest.raises(UserError, match=message):
        NoiseModel(net, level=0.03).sample(clean)


def test_one_generator_per_image_whatever_the_form(net):
    model = NoiseModel(net, level=0.03)
    array = (smooth_image(8, 12) * 255).astype(np.uint8)
    with pytest.raises(UserError, match="got 8 generators for 1 image; pass one generator"):
        model.sample(array, generator=generators(*range(len(array))))
    assert model.sample(array, generator=generators(0)).shape == (8, 12, 3)


def test_outputs_carry_no_autograd_history(net, tmp_path):
    import senmvae
    from tests.model.test_official import _to_official

    assert NoiseModel(net, level=0.03).sample(torch.rand(1, 3, 8, 8)).requires_grad is False
    official = tmp_path / "official.pth"
    torch.save(
        {
            _to_official(k): v
            for k, v in SeNMVAE(model_preset("tiny").replace(level_predictor=None)).state_dict().items()
        },
        official,
    )
    loaded = senmvae.load_official(official)
    assert not loaded.training and not any(p.requires_grad for p in loaded.parameters())
    assert loaded.sample(torch.rand(1, 3, 8, 8), level=0.03).requires_grad is False
    assert loaded.denoise(torch.rand(1, 3, 8, 8)).requires_grad is False


def test_mean_correction_restores_the_clean_channel_means(net):
    model = NoiseModel(net, level=0.05, mean_correction=True)
    clean = torch.from_numpy(smooth_image(30, 34)).permute(2, 0, 1)[None]
    noisy = model.sample(clean, generator=generators(4))
    torch.testing.assert_close(noisy.mean((2, 3)), clean.mean((2, 3)), atol=1e-6, rtol=0)
    plain = NoiseModel(net, level=0.05).sample(clean, generator=generators(4))
    assert (plain.mean((2, 3)) - clean.mean((2, 3))).abs().max() > 1e-3


def test_temperature_zero_ignores_the_generator(net):
    model = NoiseModel(net, level=0.05, temperature=0.0)
    clean = torch.rand(1, 3, 20, 20)
    assert torch.equal(model.sample(clean, generator=generators(1)), model.sample(clean, generator=generators(2)))


@pytest.mark.parametrize("sampler", ["paper", "content-exact"])
def test_match_level_gives_each_image_exactly_the_asked_level(sampler):
    net = stochastic_tiny(pixel_noise=True)
    clean = torch.from_numpy(np.stack([smooth_image(40, 48, seed=s) for s in (0, 1)])).permute(0, 3, 1, 2)
    levels = [0.02, 0.07]
    as_drawn = NoiseModel(net, sampler=sampler).sample(clean, level=levels, generator=generators(3, 4))
    matched = NoiseModel(net, sampler=sampler, match_level=True)
    noisy = matched.sample(clean, level=levels, generator=generators(3, 4))
    drawn_std = (as_drawn - clean).flatten(1).std(1)
    assert ((drawn_std / torch.tensor(levels) - 1).abs() > 0.05).any()  # as drawn, the levels are not exact
    torch.testing.assert_close(noise_level(noisy, clean), torch.tensor(levels), atol=1e-6, rtol=0)
    # the same noise pattern, only scaled: the correlation with the unmatched draw is 1
    for a, b in zip((noisy - clean).flatten(1), (as_drawn - clean).flatten(1)):
        assert torch.corrcoef(torch.stack([a, b]))[0, 1] > 0.9999
    cooler = matched.sample(clean, level=levels, temperature=0.5, generator=generators(3, 4))
    torch.testing.assert_close(noise_level(cooler, clean), 0.5 * torch.tensor(levels), atol=1e-6, rtol=0)


def test_with_match_level_a_part_drawn_alone_is_scaled_as_the_whole_noise():
    net = stochastic_tiny(pixel_noise=True)
    clean = torch.from_numpy(smooth_image(40, 48)).permute(2, 0, 1)[None]

    def noise(parts):
        model = NoiseModel(net, sampler="content-exact", match_level=True, parts=parts)
        return model.sample(clean, level=0.05, generator=generators(3)) - clean

    whole, zn, pixel = noise(["zn", "pixel"]), noise(["zn"]), noise(["pixel"])
    assert zn.std() > 0.01 and pixel.std() > 0.01
    torch.testing.assert_close(zn + pixel, whole, atol=1e-6, rtol=0)  # content-exact parts add up
    assert abs(float(whole.std()) - 0.05) < 1e-6


def test_match_level_follows_how_the_model_was_trained(tmp_path, net):
    save_model(net, tmp_path / "image.safetensors", extra_metadata={"level": "image"})
    save_model(net, tmp_path / "crop.safetensors", extra_metadata={"level": "crop"})
    save_model(net, tmp_path / "older.safetensors")
    assert NoiseModel.load(tmp_path / "image.safetensors").match_level is True
    assert NoiseModel.load(tmp_path / "crop.safetensors").match_level is False
    assert NoiseModel.load(tmp_path / "older.safetensors").match_level is False
    assert NoiseModel.load(tmp_path / "image.safetensors", match_level=False).match_level is False
    assert NoiseModel.load(tmp_path / "crop.safetensors", match_level=True).match_level is True


# ------------------------------------------------------------------ tiling
def tiled_and_whole(net, clean, seeds, tile=64, overlap=32):
    tiled = NoiseModel(net, level=0.05, tile_size=tile, tile_overlap=overlap)
    whole = NoiseModel(net, level=0.05, tile_size=4096)
    return (
        torch.cat([tiled.sample(clean, generator=generators(s)) for s in seeds]),
        torch.cat([whole.sample(clean, generator=generators(s)) for s in seeds]),
    )


def test_tiles_reproduce_the_whole_image_sample(net):
    clean = torch.from_numpy(smooth_image(150, 110)).permute(2, 0, 1)[None]
    tiled, whole = tiled_and_whole(net, clean, [0])
    assert (whole - clean).std() > 0.03  # there is noise to get wrong
    assert (tiled - whole).abs().max() < 2e-3


def test_tiles_reproduce_the_whole_image_sample_with_a_pixel_head():
    net = stochastic_tiny(pixel_noise=True)
    clean = torch.from_numpy(smooth_image(150, 110)).permute(2, 0, 1)[None]
    tiled, whole = tiled_and_whole(net, clean, [0])
    without_head = stochastic_tiny()
    _, zn_only = tiled_and_whole(without_head, clean, [0])
    assert (whole - zn_only).std() > 0.02  # the head's noise is there
    assert (tiled - whole).abs().max() < 2e-3


def test_memory_is_bounded_by_the_tile(net):
    seen = []
    hook = net.clean_encoder.register_forward_pre_hook(lambda module, args: seen.append(tuple(args[0].shape)))
    try:
        NoiseModel(net, level=0.03, tile_size=64, tile_overlap=16).sample(torch.rand(1, 3, 300, 170))
    finally:
        hook.remove()
    # 300 x 170 in tiles of at most 64 overlapping by 16: 6 x 4 tiles of 64 x 56
    assert seen == [(1, 3, 64, 56)] * 24


def band_masks(height, width, tile, overlap, multiple=2):
    """(band, interior) masks: pixels where two tiles blend (along either axis), and pixels
    that one tile covers alone; both at least 16 pixels from the image border."""

    def blend(size):
        mask = torch.zeros(size, dtype=torch.bool)
        for start, weight in tile_weights(size, tile, overlap, multiple):
            mask[start : start + len(weight)] |= (weight > 0) & (weight < 1)
        return mask

    rows, cols = blend(height), blend(width)
    inner = torch.zeros(height, width, dtype=torch.bool)
    inner[16:-16, 16:-16] = True
    either = rows[:, None] | cols[None, :]
    return either & inner, ~either & inner


def band_statistics(samples, band, interior):
    """Ratio of the per-pixel noise variance (over samples) in the bands to the interior's,
    and the difference of the mean output in units of the noise std."""
    var = samples.var(0).mean(0)  # (H, W), averaged over channels
    mean = samples.mean(0).mean(0)
    return float(var[band].mean() / var[interior].mean()), float(
        (mean[band].mean() - mean[interior].mean()) / var[interior].mean().sqrt()
    )


TILE, OVERLAP, SEEDS = 64, 32, list(range(8))


def test_noise_statistics_in_tile_border_bands_match_the_interior(net):
    clean = torch.full((len(SEEDS), 3, 160, 160), 0.5)
    tiled = NoiseModel(net, level=0.05, tile_size=TILE, tile_overlap=OVERLAP).sample(
        clean, generator=generators(*SEEDS)
    )
    band, interior = band_masks(160, 160, TILE, OVERLAP)
    assert band.sum() > 5000 and interior.sum() > 2000
    ratio, shift = band_statistics(tiled, band, interior)
    assert 0.93 < ratio < 1.07 and abs(shift) < 0.05


def test_the_band_statistics_catch_independently_drawn_tiles(net):
    """The seam a naive tiler makes: each tile with its own noise, blended with the same weights
    (tiles side by side along x; each tile's noise is cut from a whole-image sample)."""
    clean = torch.full((len(SEEDS), 3, 64, 160), 0.5)
    whole = NoiseModel(net, level=0.05, tile_size=4096)
    blended = torch.zeros_like(clean)
    for i, (left, weight) in enumerate(tile_weights(160, TILE, OVERLAP, 2)):
        own = whole.sample(clean, generator=generators(*[100 * s + i for s in SEEDS]))
        blended[..., left : left + len(weight)] += own[..., left : left + len(weight)] * weight
    ratio, _ = band_statistics(blended, *band_masks(64, 160, TILE, OVERLAP))
    assert ratio < 0.9


# ------------------------------------------------------------------ files and level prediction
def test_load_a_run_folder_and_its_model_file(tmp_path, net):
    run = save_run(tmp_path / "run", net)
    clean = torch.rand(1, 3, 24, 24)
    expected = NoiseModel(net, level=0.03).sample(clean, generator=generators(0))
    for path in (run, run / "model.safetensors"):
        loaded = NoiseModel.load(path, level=0.03)
        assert loaded.source == str(run / "model.safetensors")
        torch.testing.assert_close(loaded.sample(clean, generator=generators(0)), expected, atol=1e-6, rtol=0)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="without model.safetensors"):
        NoiseModel.load(tmp_path / "empty")
    with pytest.raises(UserError, match="does not exist"):
        NoiseModel.load(tmp_path / "missing.safetensors")


def test_official_checkpoint_reproduces_the_official_outputs():
    fixture = require(OFFICIAL_FIXTURE)
    data = np.load(fixture / "io.npz")
    model = NoiseModel.load(fixture / "official_state_dict.pth", temperature=0.0)
    out = model.sample(torch.from_numpy(data["clean"]), level=torch.from_numpy(data["level"]).flatten())
    np.testing.assert_allclose(out.numpy(), data["translate_mean"], atol=1e-5, rtol=0)
    with pytest.raises(UserError, match="no noise-level predictor"):
        model.predict_level(data["noisy"][0].transpose(1, 2, 0))


def test_predicted_level_is_the_mean_over_patches(net):
    model = NoiseModel(net)
    image = smooth_image(128, 96)
    tensor = torch.from_numpy(image).permute(2, 0, 1)
    patches = torch.stack([tensor[:, t : t + 64, s : s + 64] for t in (0, 64) for s in (0, 32)])
    bias = net.level_predictor.head[-1].bias
    original = bias.detach().clone()
    try:
        for shift in (1.0, -1.0):  # predictions all above zero, then all below
            with torch.no_grad():  # predictions are linear in the last bias: move their mean to `shift`
                bias.copy_(original)
                bias.add_(shift - float(net.predict_level(patches).mean()))
                expected = float(net.predict_level(patches).mean())
            assert model.predict_level(image) == pytest.approx(max(0.0, expected), abs=1e-6)
            assert (expected > 0) == (shift > 0)
    finally:
        with torch.no_grad():
            bias.copy_(original)


def test_reference_levels(tmp_path, net):
    model = NoiseModel(net)
    clean = smooth_image(32, 32)
    noisy = np.clip(clean + np.random.default_rng(0).normal(0, 0.05, clean.shape), 0, 1).astype(np.float32)
    write_image(tmp_path / "noisy.png", noisy, bits=16)
    write_image(tmp_path / "clean.png", clean, bits=16)
    measured = model.level_of_pair(tmp_path / "noisy.png", tmp_path / "clean.png")
    assert measured.std == pytest.approx(float(np.std(noisy.astype(np.float64) - clean, ddof=1)), abs=1e-4)
    assert model.level_of_noisy(noisy) == FixedLevel(max(0.0, model.predict_level(noisy)))
    folder = tmp_path / "target"
    for i in range(3):
        write_image(folder / f"t{i}.png", smooth_image(40, 40, seed=i))
    levels = model.levels_of_folder(folder)
    assert isinstance(levels, ChoiceLevel) and len(levels.values) == 3
    assert levels.values[1] == pytest.approx(max(0.0, model.predict_level(tmp_path / "target" / "t1.png")), abs=1e-6)


def test_official_layout_without_predictor_refuses_predicted_levels(tmp_path):
    cfg = model_preset("tiny").replace(level_predictor=None)
    model = NoiseModel(SeNMVAE(cfg))
    with pytest.raises(UserError, match="--level-from-pair"):
        model.levels_of_folder(tmp_path)
