"""Every reader, on small files written in the published layout and format."""

from __future__ import annotations

import numpy as np
import pytest

from senmvae.data import BicubicImage, load_spec, read_manifest, write_manifest
from senmvae.data.io import read_image, write_image
from senmvae.data.refs import bicubic_downsample
from senmvae.data.spec import detect_layout
from senmvae.errors import UserError
from tests.conftest import POLYU, require
from tests.data import builders


def test_paired_folders_match_by_stem_recursively_in_every_format(tmp_path):
    root = tmp_path / "set"
    clean = builders.image(1)
    write_image(root / "clean" / "a.png", clean)
    write_image(root / "noisy" / "a.png", builders.noisy_version(clean, 1))
    write_image(root / "clean" / "scene2" / "b.tif", clean, bits=16)
    write_image(root / "noisy" / "scene2" / "b.tiff", clean, bits=16)
    write_image(root / "clean" / "c.bmp", clean)
    write_image(root / "noisy" / "c.jpg", clean)
    write_image(root / "clean" / "d.png", clean, bits=16)
    write_image(root / "noisy" / "d.png", clean, bits=16)

    dataset = load_spec(root)

    assert detect_layout(root) == "pairs"
    assert [p.name for p in dataset.paired] == ["set/a", "set/c", "set/d", "set/scene2/b"]
    assert [p.scene for p in dataset.paired] == ["a", "c", "d", "scene2"]
    b = dataset.paired[3]
    assert np.array_equal(b.clean.load(), b.noisy.load())  # 16-bit TIFF both sides, full precision
    assert np.abs(b.clean.load() - clean).max() < 1e-4
    assert dataset.paired[2].clean.load_with_info()[1].bit_depth == 16
    assert not dataset.problems


def test_polyu_pairs_real_with_mean_and_groups_crops_by_scene(tmp_path):
    root = builders.polyu(
        tmp_path / "polyu",
        {"Canon5D2_5_160_3200_chair": [5, 11], "NikonD800_6-3_125_5000_plant": [1], "Sony_4_200_3200_door": [2]},
    )
    # The published set has one doubled underscore: ..._plant__4_real.JPG belongs to scene "..._plant".
    clean = builders.image(9)
    write_image(root / "CroppedImages" / "NikonD800_6-3_125_5000_plant__4_mean.JPG", clean)
    write_image(root / "CroppedImages" / "NikonD800_6-3_125_5000_plant__4_real.JPG", clean)

    dataset = load_spec(root)

    assert detect_layout(root) == "polyu"
    assert len(dataset.paired) == 5
    assert sorted({p.scene for p in dataset.paired}) == [
        "Canon5D2_5_160_3200_chair",
        "NikonD800_6-3_125_5000_plant",
        "Sony_4_200_3200_door",
    ]
    chair = [p for p in dataset.paired if p.scene == "Canon5D2_5_160_3200_chair"]
    assert [p.clean.path.name for p in chair] == [
        "Canon5D2_5_160_3200_chair_11_mean.JPG",
        "Canon5D2_5_160_3200_chair_5_mean.JPG",
    ]
    assert all(p.noisy.path.name.endswith("_real.JPG") for p in dataset.paired)


def test_shared_polyu_has_80_pairs_of_512(tmp_path):
    dataset = load_spec(require(POLYU))
    assert len(dataset.paired) == 80
    assert len({p.scene for p in dataset.paired}) == 24  # "..._plant__4" joins scene "..._plant"
    assert dataset.paired[0].clean.load().shape == (512, 512, 3)
    assert not dataset.problems


def test_sidd_medium_reads_both_captures_of_each_instance_with_scene_number(tmp_path):
    root = builders.sidd_medium(
        tmp_path, ["0001_001_S6_00100_00060_3200_L", "0052_002_S6_01600_01000_5500_N", "0100_002_GP_00800_01000_5500_H"]
    )
    for spec in (root, root / "Data", tmp_path):
        dataset = load_spec(spec)
        assert len(dataset.paired) == 6
    pair = dataset.paired[2]
    assert pair.name.endswith("0052_002_S6_01600_01000_5500_N/010")
    assert pair.scene == "sidd-scene-002"
    assert pair.clean.path.name == "0052_GT_SRGB_010.PNG" and pair.noisy.path.name == "0052_NOISY_SRGB_010.PNG"
    assert not dataset.problems  # the raw .MAT files beside the PNGs are not reported


@pytest.mark.parametrize("hdf5", [False, True], ids=["mat-v5", "mat-v7.3"])
def test_sidd_blocks_read_validation_pairs_and_benchmark_blocks(tmp_path, hdf5):
    root, clean, noisy = builders.sidd_blocks(tmp_path / "sidd", hdf5=hdf5)

    dataset = load_spec(root)

    assert detect_layout(root) == "sidd-blocks"
    assert len(dataset.paired) == 2 * 3 and len(dataset.target) == 2 * 3
    pair = dataset.paired[4]  # image 1, block 1
    assert pair.scene == "sidd-val-01"
    assert np.array_equal(np.round(pair.clean.load() * 255), clean[1, 1])
    assert np.array_equal(np.round(pair.noisy.load() * 255), noisy[1, 1])
    assert np.array_equal(np.round(dataset.target[0].load() * 255), noisy[::-1][0, 0])
    assert load_spec(root / "ValidationGtBlocksSrgb.mat").paired[4].name == pair.name


def test_sidd_blocks_with_a_wrong_variable_are_refused(tmp_path):
    import scipy.io

    tmp_path.mkdir(exist_ok=True)
    scipy.io.savemat(tmp_path / "BenchmarkNoisyBlocksSrgb.mat", {"something_else": np.zeros((1, 1, 4, 4, 3), np.uint8)})
    dataset = load_spec(tmp_path)
    assert not dataset.target
    assert "no variable 'BenchmarkNoisyBlocksSrgb'" in str(dataset.problems[0])


def test_dnd_reads_the_bounding_boxes_of_info_mat(tmp_path):
    boxes = [np.array([[1, 1, 32, 32], [11, 21, 42, 60]]), np.array([[5, 7, 36, 38]])]
    root, images = builders.dnd(tmp_path / "dnd", boxes)

    dataset = load_spec(root)

    assert detect_layout(root) == "dnd"
    assert not dataset.paired and len(dataset.target) == 3
    second = dataset.target[1]
    assert second.name == "dnd/0001_02" and second.scene == "dnd-0001"
    # 1-based inclusive (row1, col1, row2, col2)
    assert np.array_equal(second.load(), images[0][10:42, 20:60])
    assert dataset.target[2].load().shape == (32, 32, 3)


def test_dnd_with_a_missing_image_file_skips_its_boxes(tmp_path):
    root, _ = builders.dnd(tmp_path / "dnd", [np.array([[1, 1, 8, 8]]), np.array([[1, 1, 8, 8]])])
    (root / "images_srgb" / "0002.mat").unlink()
    dataset = load_spec(root)
    assert len(dataset.target) == 1
    assert "0002.mat" in dataset.problems[0].location and dataset.problems[0].action == "skip"


@pytest.mark.parametrize("variant", ["aim2019", "ntire2020"])
def test_sr_layouts_bicubic_downsample_the_clean_side(tmp_path, variant):
    root = builders.sr_challenge(tmp_path / variant, variant)

    dataset = load_spec(root)

    assert detect_layout(root) == "sr"
    assert len(dataset.paired) == 4 and len(dataset.source) == 3 and len(dataset.target) == 3
    pair = dataset.paired[0]
    assert isinstance(pair.clean, BicubicImage)
    hr = read_image(pair.clean.path)
    assert hr.shape == (64, 96, 3)
    assert pair.clean.load().shape == pair.noisy.load().shape == (16, 24, 3)
    assert np.array_equal(pair.clean.load(), bicubic_downsample(hr, 4))
    assert dataset.source[0].load().shape == (16, 24, 3)


def test_bicubic_downsample_keeps_constants_and_averages_fine_detail():
    flat = np.full((16, 12, 3), 0.25, np.float32)
    assert np.allclose(bicubic_downsample(flat, 4), 0.25, atol=1e-6)
    checker = (np.indices((16, 16)).sum(0) % 2).astype(np.float32)[..., None].repeat(3, 2)
    assert np.allclose(bicubic_downsample(checker, 4), 0.5, atol=0.02)  # antialiased: no aliasing


def test_yaml_spec_names_the_three_domains_and_validation(tmp_path):
    builders.paired_folders(tmp_path / "pairs", ["p1", "p2", "p3"])
    for i in range(2):
        write_image(tmp_path / "photos" / f"photo{i}.png", builders.image(50 + i))
    dnd_root, _ = builders.dnd(tmp_path / "dnd", [np.array([[1, 1, 40, 40]])])
    sidd_root, _, _ = builders.sidd_blocks(tmp_path / "sidd", benchmark=False)
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "paired: [pairs]\n"
        "source:\n  - photos\n  - {path: pairs, limit: 1}\n"
        f"target: {{path: {dnd_root}}}\n"
        "validation:\n  - path: sidd\n"
    )

    dataset = load_spec(spec)

    assert len(dataset.paired) == 3
    assert [r.name for r in dataset.source] == ["photos/photo0", "photos/photo1", "pairs/clean/p1"]
    assert len(dataset.target) == 1 and len(dataset.validation) == 6
    assert not dataset.problems


def test_yaml_spec_errors_name_the_key(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text("paired: [{path: x, colour: red}]\n")
    with pytest.raises(UserError, match="colour"):
        load_spec(spec)
    spec.write_text("paired: [missing]\n")
    with pytest.raises(UserError, match="missing: no such file"):
        load_spec(spec)


def test_manifest_round_trips_every_kind_of_entry(tmp_path):
    sidd_root, _, _ = builders.sidd_blocks(tmp_path / "sidd")
    dnd_root, _ = builders.dnd(tmp_path / "dnd", [np.array([[1, 1, 16, 16]])])
    sr_root = builders.sr_challenge(tmp_path / "sr")
    dataset = load_spec(sidd_root)
    dataset.target += load_spec(dnd_root).target
    dataset.source += load_spec(sr_root).source
    dataset.validation = load_spec(sr_root).paired

    path = write_manifest(tmp_path / "splits" / "m.json", dataset, source_spec="test", seed=3, paired_count=6)
    manifest = read_manifest(path)

    assert (manifest.seed, manifest.paired_count, manifest.source_spec) == (3, 6, "test")
    again = manifest.dataset
    for before, after in zip(dataset.refs(), again.refs()):
        assert (before.name, before.scene, before.location) == (after.name, after.scene, after.location)
        assert np.array_equal(before.load(), after.load())
    assert '"path": "../sidd/ValidationGtBlocksSrgb.mat"' in path.read_text()  # relative to the manifest
    assert load_spec(path).validation[0].name == dataset.validation[0].name


def test_unknown_folders_and_specs_say_what_to_do(tmp_path):
    write_image(tmp_path / "loose" / "a.png", builders.image(0))
    with pytest.raises(UserError, match="clean and the noisy ones"):
        load_spec(tmp_path / "loose")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="holds no images"):
        load_spec(tmp_path / "empty")
    with pytest.raises(UserError, match="no such file"):
        load_spec(tmp_path / "nowhere")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(UserError, match="not a dataset spec"):
        load_spec(tmp_path / "notes.txt")
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(UserError, match="not a senmvae split manifest"):
        load_spec(tmp_path / "bad.json")
