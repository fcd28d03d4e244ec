"""``senmvae data check | split | prepare`` end to end."""

from __future__ import annotations

import json

import numpy as np

from senmvae.cli.main import main
from senmvae.data import load_spec
from senmvae.data.io import write_image
from tests.conftest import POLYU, require
from tests.data import builders


def test_check_polyu_prints_counts_sizes_and_noise(capsys):
    assert main(["data", "check", str(require(POLYU))]) == 0
    out = capsys.readouterr().out
    assert "(PolyU real-noise layout)" in out
    paired = next(line for line in out.splitlines() if line.startswith("paired "))
    assert paired.split()[:5] == ["paired", "80", "24", "512x512", "8"]
    assert "problems: none" in out and "result: can be trained on with 64x64 crops" in out


def test_split_polyu_writes_a_manifest_training_can_read(tmp_path, capsys):
    out = tmp_path / "split.json"
    assert main(["data", "split", str(require(POLYU)), "--paired", "10", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed and "paired scenes:" in printed
    document = json.loads(out.read_text())
    assert document["paired_count"] == 10 and document["seed"] == 0 and document["source_spec"] == str(POLYU)
    split = load_spec(out)
    assert len(split.paired) == 10 and split.source and split.target and split.validation


def test_check_lists_every_problem_file_and_fails_when_untrainable(tmp_path, capsys):
    root = builders.paired_folders(tmp_path / "set", ["a", "b", "c"])
    (root / "noisy" / "b.png").write_bytes(b"\x89PNG broken")
    write_image(root / "noisy" / "c.png", builders.image(2, 30, 30))
    (root / "clean" / "notes.txt").write_text("x")

    assert main(["data", "check", str(root), "--crop", "16"]) == 1
    out = capsys.readouterr().out
    assert "problems (1 refused, 2 skipped, 0 notes):" in out
    assert f"REFUSED  {root / 'noisy' / 'c.png'}: is 30x30 but its clean partner" in out
    assert f"SKIPPED  {root / 'noisy' / 'b.png'}:" in out and f"SKIPPED  {root / 'clean' / 'notes.txt'}:" in out
    assert "result: CANNOT be trained on" in out


def test_check_reports_a_pair_with_a_nan_pixel_as_a_problem(tmp_path, capsys):
    import tifffile

    root = builders.paired_folders(tmp_path / "set", ["a"], suffix=".tif")
    noisy = builders.noisy_version(builders.image(0), 1).astype(np.float32)
    noisy[5, 6, 0] = np.nan
    tifffile.imwrite(root / "noisy" / "a.tif", noisy, photometric="rgb")

    assert main(["data", "check", str(root), "--crop", "16"]) == 1
    out = capsys.readouterr().out
    assert f"SKIPPED  {root / 'noisy' / 'a.tif'}: 1 of its 9216 pixel values are not finite (NaN or inf)" in out
    paired = next(line for line in out.splitlines() if line.startswith("paired "))
    assert paired.split()[1] == "0" and "nan" not in paired.lower()  # the pair is left out, no NaN statistic
    assert "problems: none" not in out and "result: CANNOT be trained on" in out


def test_check_of_a_folder_of_loose_clean_images_gives_their_statistics(tmp_path, capsys):
    from PIL import Image

    root = tmp_path / "photos"
    for i, (h, w) in enumerate([(48, 64), (48, 64), (40, 56)]):
        write_image(root / f"p{i}.png", builders.image(i, h, w))
    write_image(root / "deep" / "p3.png", builders.image(3), bits=16)
    Image.fromarray(np.zeros((48, 64), np.uint8)).save(root / "grey.png")

    assert main(["data", "check", str(root), "--crop", "16"]) == 1
    out = capsys.readouterr().out
    source = next(line for line in out.splitlines() if line.startswith("source "))
    assert source.split() == ["source", "4", "4", "56x40", "..", "64x48", "(2", "sizes)", "8/16", "-"]
    assert f"SKIPPED  {root / 'grey.png'}: is grayscale" in out
    assert "has no usable (clean, noisy) pair" in out and "result: CANNOT be trained on" in out
    assert f"note: {root} is a folder of images with no known layout, so it holds no pairs" in out
    assert "under 'source' (clean) or 'target' (noisy) in a YAML spec" in out


def test_split_refuses_an_untrainable_set_before_writing(tmp_path, capsys):
    root = builders.paired_folders(tmp_path / "set", ["a", "b"])
    write_image(root / "noisy" / "a.png", builders.image(2, 30, 30))
    out = tmp_path / "split.json"
    assert main(["data", "split", str(root), "--paired", "1", "-o", str(out)]) == 2
    assert "cannot be trained on" in capsys.readouterr().err and not out.exists()


def test_split_of_other_layouts_and_the_sr_protocol(tmp_path, capsys):
    sidd = builders.sidd_medium(
        tmp_path / "sidd", [f"{i:04d}_{i % 5 + 1:03d}_S6_00100_00060_3200_L" for i in range(1, 11)], size=(80, 80)
    )
    out = tmp_path / "sidd.json"
    assert main(["data", "split", str(sidd), "--paired", "3", "--validation", "0.2", "-o", str(out)]) == 0
    split = load_spec(out)
    assert len(split.paired) == 3 and len({p.scene for p in split.validation}) == 1

    sr = builders.sr_challenge(tmp_path / "aim", "aim2019", lr=(64, 64))
    out = tmp_path / "aim.json"
    args = ["--paired", "2", "--validation", "rest", "--order", "sorted", "--group-by", "image", "-o", str(out)]
    assert main(["data", "split", str(sr), *args]) == 0
    split = load_spec(out)
    assert [p.name for p in split.paired] == ["aim/validation/0801", "aim/validation/0802"]
    assert len(split.validation) == 2 and len(split.source) == 3 and len(split.target) == 3
    assert main(["data", "check", str(out)]) == 0


def test_prepare_cuts_patches_and_reports(tmp_path, capsys):
    root = builders.paired_folders(tmp_path / "set", ["a", "b"])
    out = tmp_path / "patches"
    assert main(["data", "prepare", str(root), str(out), "--patch", "32", "--per-image", "4"]) == 0
    assert f"wrote {out / 'manifest.json'}" in capsys.readouterr().out
    prepared = load_spec(out)
    assert len(prepared.paired) == 8 and prepared.paired[0].clean.load().shape == (32, 32, 3)
    assert main(["data", "check", str(out), "--crop", "32"]) == 0
    assert main(["data", "prepare", str(root), str(out), "--patch", "32", "--per-image", "4"]) == 0  # resumes: no-op
    assert len(load_spec(out).paired) == 8


def test_check_reads_dnd_and_sidd_blocks_and_the_default_set(tmp_path, capsys, monkeypatch):
    dnd, _ = builders.dnd(tmp_path / "dnd", [np.array([[1, 1, 64, 64]])])
    assert main(["data", "check", str(dnd)]) == 1  # noisy only: no pair to train on
    assert "target           1       1  64x64" in capsys.readouterr().out
    blocks, _, _ = builders.sidd_blocks(tmp_path / "blocks")
    assert main(["data", "check", str(blocks), "--crop", "32"]) == 0
    monkeypatch.setenv("SENMVAE_CACHE", str(tmp_path / "cache"))
    assert main(["data", "check", "default"]) == 0
    assert "split manifest of embedded" in capsys.readouterr().out
