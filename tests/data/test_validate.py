"""The bad-input policy: each case gives one message naming the file, and either refuses the
dataset (with the whole list) or leaves the file out with a counted warning."""

from __future__ import annotations

import logging
import os

import numpy as np
import pytest
from PIL import Image

from senmvae.data import Action, load_spec, validate
from senmvae.data.io import write_image
from senmvae.errors import UserError
from tests.data import builders


def pairs_with(tmp_path, names=("a", "b", "c")):
    return builders.paired_folders(tmp_path / "set", list(names))


def only(report, action):
    return [p for p in report.problems if p.action is action]


def test_a_clean_set_has_no_problems_and_exact_statistics(tmp_path):
    root = tmp_path / "set"
    clean = np.full((40, 50, 3), 0.5)
    noisy = clean.copy()
    noisy[::2] += 4 / 255  # half the rows +4, half 0: std of the difference is exactly 2/255
    write_image(root / "clean" / "x.png", clean)
    write_image(root / "noisy" / "x.png", noisy)

    report = validate(load_spec(root), crop=32, progress=False)

    assert report.ok and not report.problems
    stats = report.stats["paired"]
    assert stats.count == 1 and stats.sizes == {(50, 40): 2} and stats.bit_depths == {8: 2}
    assert stats.noise_std[0] * 255 == pytest.approx(2.0, abs=1e-3)
    assert "2.00 (min 2.00, max 2.00)" in report.render()


@pytest.mark.parametrize(
    "content, expected",
    [
        (lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 3]), "corrupt or truncated"),
        (lambda p: p.write_text("this is not a picture"), "not an image"),
        (lambda p: (p.unlink(), os.symlink(p.with_name("gone.png"), p)), "file not found"),
    ],
    ids=["truncated", "not-an-image-with-png-suffix", "unreadable-dangling-link"],
)
def test_undecodable_files_are_skipped_with_their_pair(tmp_path, caplog, content, expected):
    root = pairs_with(tmp_path)
    broken = root / "noisy" / "b.png"
    content(broken)

    with caplog.at_level(logging.WARNING, logger="senmvae.data"):
        report = validate(load_spec(root), crop=16, progress=False)

    assert report.ok
    assert [p.name for p in report.dataset.paired] == ["set/a", "set/c"]
    (problem,) = only(report, Action.SKIP)
    assert problem.location == str(broken) and expected in problem.message and "left out" in problem.message
    assert "1 file(s) left out" in caplog.text and str(broken) in caplog.text


def test_a_file_without_read_permission_is_skipped(tmp_path, monkeypatch):
    root = pairs_with(tmp_path)
    locked = root / "clean" / "a.png"
    if os.geteuid() == 0:  # root reads whatever the permissions: make the open fail as it would
        real_open = Image.open

        def refuse(path, *args, **kwargs):
            if str(path) == str(locked):
                raise PermissionError(13, "Permission denied", str(path))
            return real_open(path, *args, **kwargs)

        monkeypatch.setattr(Image, "open", refuse)
    else:
        locked.chmod(0)
    report = validate(load_spec(root), crop=16, progress=False)
    (problem,) = only(report, Action.SKIP)
    assert problem.location == str(locked) and "permission denied; make the file readable" in problem.message


def test_stray_non_image_files_are_named_and_ignored(tmp_path):
    root = pairs_with(tmp_path)
    (root / "noisy" / "README.txt").write_text("notes")
    report = validate(load_spec(root), crop=16, progress=False)
    assert report.ok and len(report.dataset.paired) == 3
    (problem,) = only(report, Action.SKIP)
    assert problem.location.endswith("README.txt") and "not an image file (suffix '.txt')" in problem.message


def test_grayscale_is_left_out_but_rgba_palette_and_16_bit_are_used(tmp_path):
    root = pairs_with(tmp_path, ["gray", "rgba", "palette", "deep"])
    Image.open(root / "noisy" / "gray.png").convert("L").save(root / "noisy" / "gray.png")
    Image.open(root / "clean" / "rgba.png").convert("RGBA").save(root / "clean" / "rgba.png")
    Image.open(root / "noisy" / "palette.png").convert("P").save(root / "noisy" / "palette.png")
    write_image(root / "noisy" / "deep.png", builders.image(3), bits=16)

    report = validate(load_spec(root), crop=16, progress=False)

    assert report.ok
    assert [p.name for p in report.dataset.paired] == ["set/deep", "set/palette", "set/rgba"]
    (gray,) = only(report, Action.SKIP)
    assert gray.location.endswith("noisy/gray.png") and "grayscale" in gray.message
    notes = {
        p.location.rsplit("/", 2)[-2] + "/" + p.location.rsplit("/", 1)[-1]: p.message
        for p in only(report, Action.NOTE)
    }
    assert "alpha channel" in notes["clean/rgba.png"] and "palette" in notes["noisy/palette.png"]
    assert report.stats["paired"].bit_depths == {8: 5, 16: 1}


def test_float_pixels_that_are_not_finite_or_far_outside_0_1_leave_their_pair_out(tmp_path):
    import tifffile

    root = pairs_with(tmp_path, ["nan", "scale255", "overshoot", "good"])
    for name in ("nan", "scale255", "overshoot"):
        (root / "noisy" / f"{name}.png").unlink()
    with_nan = builders.image(1).astype(np.float32)
    with_nan[3, 4, 1] = np.nan
    tifffile.imwrite(root / "noisy" / "nan.tif", with_nan, photometric="rgb")
    tifffile.imwrite(root / "noisy" / "scale255.tif", builders.image(2).astype(np.float32) * 255, photometric="rgb")
    overshoot = builders.image(3).astype(np.float32)
    overshoot[0, 0] = (1.1, -0.1, 0.5)  # filter overshoot: used, clipped
    tifffile.imwrite(root / "noisy" / "overshoot.tif", overshoot, photometric="rgb")

    report = validate(load_spec(root), crop=16, progress=False)

    assert report.ok and [p.name for p in report.dataset.paired] == ["set/good", "set/overshoot"]
    skipped = {p.location.rsplit("/", 1)[-1]: p.message for p in only(report, Action.SKIP)}
    assert skipped.keys() == {"nan.tif", "scale255.tif"}
    assert skipped["nan.tif"].startswith("1 of its 9216 pixel values are not finite (NaN or inf)")
    assert "far outside the [0, 1] that a float image must hold" in skipped["scale255.tif"]
    assert np.isfinite(report.stats["paired"].noise_std).all() and report.stats["paired"].count == 2
    text = report.render()
    assert "nan" not in text.split("problems")[0]  # no NaN statistic


def test_the_report_columns_never_run_into_each_other():
    from collections import Counter

    from senmvae.data import SemiSupervisedSet
    from senmvae.data.validate import DOMAINS, DomainStats, Report

    stats = {domain: DomainStats() for domain in DOMAINS}
    stats["paired"] = DomainStats(count=200, sizes=Counter({(10 + i, 20000 + i): 1 for i in range(123)}))
    stats["paired"].bit_depths[16] = 246

    lines = Report(SemiSupervisedSet(), 64, [], stats).render().splitlines()

    assert "10x20000 .. 132x20122 (123 sizes)  16      -" in lines[1]
    assert lines[0].index("bits") == lines[1].index("16      -") == lines[2].index("-       -")


def test_pairs_of_different_sizes_refuse_the_dataset_listing_all_of_them(tmp_path):
    root = pairs_with(tmp_path, ["a", "b", "c"])
    write_image(root / "noisy" / "a.png", builders.image(0, 40, 64))
    write_image(root / "noisy" / "c.png", builders.image(0, 48, 60))
    dataset = load_spec(root)

    report = validate(dataset, crop=16, strict=False, progress=False)
    assert not report.ok
    refused = only(report, Action.REFUSE)
    assert [p.location.rsplit("/", 1)[-1] for p in refused] == ["a.png", "c.png"]
    assert "is 64x40 but its clean partner" in refused[0].message and "64x48" in refused[0].message

    with pytest.raises(UserError) as err:
        validate(dataset, crop=16, progress=False)
    assert str(root / "noisy" / "a.png") in str(err.value) and str(root / "noisy" / "c.png") in str(err.value)


def test_a_missing_partner_is_skipped_with_a_warning(tmp_path):
    root = pairs_with(tmp_path)
    (root / "noisy" / "b.png").unlink()
    write_image(root / "noisy" / "extra.png", builders.image(9))
    report = validate(load_spec(root), crop=16, progress=False)
    assert report.ok and [p.name for p in report.dataset.paired] == ["set/a", "set/c"]
    messages = {p.location.rsplit("/", 1)[-1]: p.message for p in only(report, Action.SKIP)}
    assert set(messages) == {"b.png", "extra.png"}
    assert "has no partner (expected a file of the same name in" in messages["b.png"]


def test_two_files_with_one_stem_make_the_pairing_ambiguous(tmp_path):
    root = pairs_with(tmp_path)
    write_image(root / "clean" / "a.jpg", builders.image(0))
    report = validate(load_spec(root), crop=16, strict=False, progress=False)
    (problem,) = only(report, Action.REFUSE)
    assert {problem.location.rsplit("/", 1)[-1], problem.message.split()[5]} == {"a.png", "a.jpg"}
    assert "keep one of the two" in problem.message


def test_images_smaller_than_the_crop_are_left_out(tmp_path):
    root = pairs_with(tmp_path)
    report = validate(load_spec(root), crop=64, strict=False, progress=False)  # images are 64x48
    assert not report.ok  # every pair is too small: nothing to train on
    skipped = only(report, Action.SKIP)
    assert len(skipped) == 6 and "smaller than the 64x64 crop" in skipped[0].message
    assert "no usable (clean, noisy) pair" in only(report, Action.REFUSE)[0].message
    assert validate(load_spec(root), crop=48, progress=False).ok


def test_empty_folders_refuse_the_dataset(tmp_path):
    root = tmp_path / "set"
    (root / "clean").mkdir(parents=True)
    (root / "noisy").mkdir()
    with pytest.raises(UserError) as err:
        validate(load_spec(root), crop=16, progress=False)
    assert f"{root / 'clean'}: holds no images" in str(err.value)
    assert f"{root / 'noisy'}: holds no images" in str(err.value)


def test_a_domain_whose_every_image_is_left_out_is_refused(tmp_path):
    pairs_with(tmp_path)
    write_image(tmp_path / "small" / "tiny.png", builders.image(0, 8, 8))
    spec = tmp_path / "spec.yaml"
    spec.write_text("paired: [set]\ntarget: [small]\n")
    report = validate(load_spec(spec), crop=16, strict=False, progress=False)
    assert "every image of the target domain was left out" in only(report, Action.REFUSE)[0].message
    spec.write_text("paired: [set]\nsource: [empty]\n")
    (tmp_path / "empty").mkdir()
    report = validate(load_spec(spec), crop=16, strict=False, progress=False)
    assert any("holds no images" in p.message for p in only(report, Action.REFUSE))


def test_validation_pairs_need_not_reach_the_crop(tmp_path):
    pairs_with(tmp_path)
    builders.paired_folders(tmp_path / "val", ["v"], size=(20, 20))
    spec = tmp_path / "spec.yaml"
    spec.write_text("paired: [set]\nvalidation: [val]\n")
    report = validate(load_spec(spec), crop=32, progress=False)
    assert report.ok and len(report.dataset.validation) == 1
