import json
import os
import subprocess
import sys

import numpy as np
import pytest

from senmvae.cli.main import main
from senmvae.data.io import image_info, read_image
from senmvae.generate import NoiseModel, stream_generator
from tests.conftest import OFFICIAL_FIXTURE, require
from tests.generate.helpers import save_run, smooth_image, stochastic_tiny, write_clean_folder

SIZES = [(40, 48), (40, 48), (36, 52), (40, 48), (70, 90)]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return save_run(tmp_path_factory.mktemp("run"), stochastic_tiny())


@pytest.fixture
def clean_dir(tmp_path):
    folder = write_clean_folder(tmp_path / "clean", SIZES)
    write_clean_folder(folder / "sub", [(32, 32)], names=["nested"])
    return folder


def synthesize(model, clean, out, *extra):
    code = main(
        [
            "synthesize",
            "--model",
            str(model),
            "--input",
            str(clean),
            "--output",
            str(out),
            "--no-progress",
            "--device",
            "cpu",
            "--tile-size",
            "64",
            "--tile-overlap",
            "16",
            *extra,
        ]
    )
    assert code == 0
    return out


def outputs(folder):
    return {p.relative_to(folder).as_posix(): read_image(p) for p in sorted(folder.rglob("*.png"))}


def test_a_clean_folder_becomes_a_noisy_folder_with_a_manifest(run_dir, clean_dir, tmp_path):
    out = synthesize(run_dir, clean_dir, tmp_path / "out", "--level", "0.01:0.08", "-k", "2", "--seed", "7")
    files = outputs(out)
    names = ["img0", "img1", "img2", "img3", "img4", "sub/nested"]
    assert sorted(files) == sorted(f"{n}_s{k}.png" for n in names for k in (0, 1))
    assert files["img4_s1.png"].shape == (70, 90, 3)  # tiled: larger than the 64 tile
    manifest = json.loads((out / "pairs.json").read_text())
    assert [(p["name"], p["sample_index"]) for p in manifest["pairs"]] == [(n, k) for n in names for k in (0, 1)]
    pair = manifest["pairs"][-1]
    assert (out / pair["clean"]).resolve() == (clean_dir / "sub" / "nested.png").resolve()
    assert (out / pair["noisy"]).resolve() == (out / "sub" / "nested_s1.png").resolve()
    assert pair["seed"] == 7
    # the manifest's level is the one the image was generated with: regenerate it by hand
    model = NoiseModel.load(run_dir, tile_size=64, tile_overlap=16, sampler="content-exact")  # the CLI default
    first = manifest["pairs"][0]
    expected, levels = model.sample_with_levels(
        read_image(clean_dir / "img0.png"), level="0.01:0.08", generator=[stream_generator(7, "img0", 0)]
    )
    assert levels[0] == first["level"] and 0.01 <= first["level"] <= 0.08
    assert np.abs(files["img0_s0.png"] - np.clip(expected, 0, 1)).max() <= 0.5 / 255 + 1e-6
    assert len({p["level"] for p in manifest["pairs"]}) == len(manifest["pairs"])


def test_outputs_depend_on_seed_name_and_index_only(run_dir, clean_dir, tmp_path):
    one = outputs(synthesize(run_dir, clean_dir, tmp_path / "b1", "--exact"))
    three = outputs(synthesize(run_dir, clean_dir, tmp_path / "b3", "--exact", "--batch-size", "3"))
    assert one.keys() == three.keys()
    assert all(np.array_equal(one[k], three[k]) for k in one)
    # more images in the folder, and a different order of work, change nothing for the others
    write_clean_folder(clean_dir, [(40, 48)], names=["aaa_first"])
    more = outputs(synthesize(run_dir, clean_dir, tmp_path / "more", "--exact", "--batch-size", "2"))
    assert all(np.array_equal(one[k], more[k]) for k in one)
    # fast kernels: the same samples up to float rounding
    fast = outputs(synthesize(run_dir, clean_dir, tmp_path / "fast", "--batch-size", "4"))
    assert max(np.abs(one[k] - fast[k]).max() for k in one) <= 1 / 255 + 1e-6
    other_seed = outputs(synthesize(run_dir, clean_dir, tmp_path / "seed1", "--seed", "1"))
    assert np.abs(one["img0.png"] - other_seed["img0.png"]).mean() > 0.01


def test_an_interrupted_run_resumes_without_truncated_files(run_dir, clean_dir, tmp_path, monkeypatch):
    reference = outputs(synthesize(run_dir, clean_dir, tmp_path / "ref", "--exact"))
    out = tmp_path / "out"
    real_replace = os.replace
    renamed = []

    def interrupted(src, dst):
        if str(dst).endswith(".png"):
            renamed.append(dst)
            if len(renamed) == 3:  # interrupted in the middle of writing the third image
                raise KeyboardInterrupt
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", interrupted)
    assert (
        main(
            [
                "synthesize",
                "--model",
                str(run_dir),
                "--input",
                str(clean_dir),
                "--output",
                str(out),
                "--no-progress",
                "--device",
                "cpu",
                "--tile-size",
                "64",
                "--tile-overlap",
                "16",
                "--exact",
            ]
        )
        == 130
    )
    monkeypatch.setattr(os, "replace", real_replace)
    partial = outputs(out)
    assert len(partial) == 2 and not (out / "pairs.json").exists()
    assert all(np.array_equal(partial[k], reference[k]) for k in partial)
    assert sorted(p.name for p in out.iterdir() if p.is_file()) == sorted(partial)  # no temporary or partial file

    mtimes = {k: (out / k).stat().st_mtime_ns for k in partial}
    synthesize(run_dir, clean_dir, out, "--exact")
    assert {k: (out / k).stat().st_mtime_ns for k in partial} == mtimes  # finished files were skipped
    resumed = outputs(out)
    assert resumed.keys() == reference.keys() and all(np.array_equal(resumed[k], reference[k]) for k in reference)
    assert (out / "pairs.json").read_text() == (tmp_path / "ref" / "pairs.json").read_text().replace("/ref/", "/out/")


def test_changed_settings_are_refused_unless_overwriting(run_dir, clean_dir, tmp_path, capsys):
    out = synthesize(run_dir, clean_dir, tmp_path / "out", "--level", "0.02")
    first = outputs(out)
    code = main(
        [
            "synthesize",
            "--model",
            str(run_dir),
            "--input",
            str(clean_dir),
            "--output",
            str(out),
            "--level",
            "0.05",
            "--no-progress",
            "--tile-size",
            "64",
            "--tile-overlap",
            "16",
        ]
    )
    assert code == 2 and "'fixed 0.02' then, 'fixed 0.05' now" in capsys.readouterr().err
    synthesize(run_dir, clean_dir, out, "--level", "0.02", "--seed", "1", "--overwrite")
    second = outputs(out)
    assert np.abs(first["img0.png"] - second["img0.png"]).mean() > 0.01
    assert json.loads((out / "pairs.json").read_text())["settings"]["seed"] == 1


def test_shards_split_the_work_and_together_make_the_whole(run_dir, clean_dir, tmp_path, monkeypatch):
    whole = synthesize(run_dir, clean_dir, tmp_path / "whole", "--exact", "-k", "2")
    out = tmp_path / "sharded"
    monkeypatch.setenv("WORLD_SIZE", "2")
    written = []
    for rank in (1, 0):
        monkeypatch.setenv("RANK", str(rank))
        before = set(outputs(out)) if out.exists() else set()
        synthesize(run_dir, clean_dir, out, "--exact", "-k", "2")
        written.append(set(outputs(out)) - before)
        assert (out / "pairs.json").exists() == (rank == 0)  # the last shard to finish writes it
    assert written[0] and written[1] and not written[0] & written[1]
    expected, got = outputs(whole), outputs(out)
    assert expected.keys() == got.keys() and all(np.array_equal(expected[k], got[k]) for k in expected)
    manifests = [json.loads((d / "pairs.json").read_text())["pairs"] for d in (whole, out)]
    assert [(p["noisy"], p["level"]) for p in manifests[0]] == [(p["noisy"], p["level"]) for p in manifests[1]]


@pytest.mark.slow
def test_torchrun_processes_take_disjoint_shards(run_dir, clean_dir, tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
        "-m",
        "senmvae.cli.main",
        "synthesize",
        "--model",
        str(run_dir),
        "--input",
        str(clean_dir),
        "--output",
        str(out),
        "--device",
        "cpu",
        "--no-progress",
        "--tile-size",
        "64",
        "--tile-overlap",
        "16",
    ]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "process 0 of 2" in result.stdout and "process 1 of 2" in result.stdout
    counts = sorted(int(line.split("wrote ")[1].split()[0]) for line in result.stdout.splitlines() if "wrote" in line)
    assert counts == [3, 3]
    assert len(json.loads((out / "pairs.json").read_text())["pairs"]) == 6


def test_sixteen_bit_output(run_dir, clean_dir, tmp_path):
    out = synthesize(run_dir, clean_dir, tmp_path / "out", "--bits", "16", "--level", "0.03")
    info = image_info(out / "img2.png")
    assert (info.bit_depth, info.width, info.height) == (16, 52, 36)


def test_reference_level_options(run_dir, clean_dir, tmp_path):
    from senmvae.data.io import write_image

    clean = smooth_image(48, 48)
    noisy = np.clip(clean + np.random.default_rng(1).normal(0, 0.04, clean.shape), 0, 1)
    write_image(tmp_path / "ref_noisy.png", noisy, bits=16)
    write_image(tmp_path / "ref_clean.png", clean, bits=16)
    write_image(tmp_path / "target" / "a.png", noisy)
    model = NoiseModel.load(run_dir)
    for option, value, expected in [
        (
            "--level-from-pair",
            [tmp_path / "ref_noisy.png", tmp_path / "ref_clean.png"],
            model.level_of_pair(tmp_path / "ref_noisy.png", tmp_path / "ref_clean.png").std,
        ),
        ("--level-from-noisy", [tmp_path / "ref_noisy.png"], model.level_of_noisy(tmp_path / "ref_noisy.png").std),
        ("--level-from-folder", [tmp_path / "target"], model.levels_of_folder(tmp_path / "target").values[0]),
    ]:
        out = synthesize(run_dir, clean_dir, tmp_path / option, option, *map(str, value))
        levels = [p["level"] for p in json.loads((out / "pairs.json").read_text())["pairs"]]
        assert levels == pytest.approx([expected] * 6, abs=1e-9)


def test_official_checkpoint_synthesizes_a_folder(clean_dir, tmp_path, capsys):
    checkpoint = require(OFFICIAL_FIXTURE) / "official_state_dict.pth"
    out = synthesize(checkpoint, clean_dir, tmp_path / "out", "--level", "0.03")
    files = outputs(out)
    assert len(files) == 6 and np.abs(files["img0.png"] - read_image(clean_dir / "img0.png")).std() > 0.01
    code = main(
        [
            "synthesize",
            "--model",
            str(checkpoint),
            "--input",
            str(clean_dir),
            "--output",
            str(tmp_path / "x"),
            "--level-from-noisy",
            str(clean_dir / "img0.png"),
        ]
    )
    assert code == 2 and "no noise-level predictor" in capsys.readouterr().err


def test_bad_inputs_are_named(run_dir, clean_dir, tmp_path, capsys):
    def error(*args):
        assert main(["synthesize", "--model", str(run_dir), "--no-progress", *map(str, args)]) == 2
        return capsys.readouterr().err

    assert "does not exist" in error("--input", tmp_path / "nope", "--output", tmp_path / "o")
    assert "inside the input folder" in error("--input", clean_dir, "--output", clean_dir / "noisy")
    assert "not understood" in error("--input", clean_dir, "--output", tmp_path / "o", "--level", "high")
    assert "multiple of 2" in error("--input", clean_dir, "--output", tmp_path / "o", "--tile-size", "65")


def test_non_finite_model_output_is_refused_and_finished_images_are_kept(run_dir, clean_dir, tmp_path, monkeypatch):
    from senmvae.errors import UserError
    from senmvae.generate.levels import FixedLevel
    from senmvae.generate.synthesize import synthesize_folder

    model = NoiseModel.load(run_dir)
    real_sample, calls = model.sample, []

    def sample(clean, **kwargs):
        calls.append(1)
        noisy = real_sample(clean, **kwargs)
        return noisy * float("nan") if len(calls) > 1 else noisy

    monkeypatch.setattr(model, "sample", sample)
    out = tmp_path / "out"
    with pytest.raises(UserError, match="non-finite values"):
        synthesize_folder(model, clean_dir, out, level=FixedLevel(0.05), batch_size=1, progress=False)
    assert len(list(out.glob("*.png"))) == 1


def test_the_sampler_is_printed_and_recorded_and_content_exact_is_the_default(run_dir, clean_dir, tmp_path, capsys):
    for extra, sampler in [((), "content-exact"), (("--sampler", "paper"), "paper")]:
        out = synthesize(run_dir, clean_dir, tmp_path / sampler, "--level", "0.03", *extra)
        assert f"; sampler: {sampler}; level: fixed 0.03;" in capsys.readouterr().out
        assert json.loads((out / ".synthesize" / "settings.json").read_text())["sampler"] == sampler
        assert json.loads((out / "pairs.json").read_text())["settings"]["sampler"] == sampler


def test_levels_outside_the_trained_range_get_a_warning(run_dir, tmp_path, capsys):
    clean = write_clean_folder(tmp_path / "clean", [(32, 32)] * 2)
    # A shipped model's card records the levels it was trained on: 0.0043-0.0985.
    synthesize("base", clean, tmp_path / "inside", "--level", "0.03")
    assert "warning" not in capsys.readouterr().err
    synthesize("base", clean, tmp_path / "outside", "--level", "0.5")
    err = capsys.readouterr().err
    assert "warning: all 2 outputs get noise levels outside 0.0043-0.0985, the noise levels base was trained on" in err
    assert ": 0.5. Noise at levels a model never saw is extrapolated" in err
    synthesize("base", clean, tmp_path / "partly", "--level", "0.001,0.03", "-k", "8")
    err = capsys.readouterr().err
    drawn = [p["level"] for p in json.loads((tmp_path / "partly" / "pairs.json").read_text())["pairs"]]
    assert f"warning: {drawn.count(0.001)} of 16 outputs get noise levels outside 0.0043-0.0985" in err
    # A model that records no range: levels above 0.1 are warned about.
    synthesize(run_dir, clean, tmp_path / "unrecorded_inside", "--level", "0.09")
    assert "warning" not in capsys.readouterr().err
    synthesize(run_dir, clean, tmp_path / "unrecorded", "--level", "0.2")
    err = capsys.readouterr().err
    assert "warning: all 2 outputs get noise levels above 0.1 (25.5 in 8-bit units);" in err
    assert "records no range of training levels" in err


def test_grey_alpha_and_deep_inputs_are_told_once_per_kind(run_dir, tmp_path, capsys):
    from PIL import Image

    from senmvae.data.io import write_image

    clean = write_clean_folder(tmp_path / "clean", [(32, 32)] * 5)
    for name in ("img0", "img1"):
        Image.open(clean / f"{name}.png").convert("L").save(clean / f"{name}.png")
    Image.open(clean / "img2.png").convert("RGBA").save(clean / "img2.png")
    write_image(clean / "img3.png", smooth_image(32, 32), bits=16)

    synthesize(run_dir, clean, tmp_path / "out", "--level", "0.03")
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]

    assert len(warnings) == 3
    assert "2 inputs were grayscale: read as RGB with the grey value in all three channels" in warnings[0]
    assert f"({clean / 'img0.png'}, {clean / 'img1.png'})" in warnings[0]
    assert "1 input has an alpha channel: it is dropped" in warnings[1] and "img2.png" in warnings[1]
    assert "1 input has more than 8 bits per channel: the outputs are 8-bit PNGs; --bits 16" in warnings[2]
    synthesize(run_dir, clean, tmp_path / "deep", "--level", "0.03", "--bits", "16")
    assert "more than" not in capsys.readouterr().err
