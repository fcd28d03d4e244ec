"""Bad input and faults at the command line: one message naming the file or setting, exit status 2,
no traceback, nothing lost (docs/bad-input.md lists the cases)."""

from __future__ import annotations

import errno
import json
import os
import signal

import numpy as np
import pytest
import torch
from PIL import Image

from senmvae.cli.main import fixable_os_error, main
from senmvae.generate import NoiseModel
from senmvae.model import SeNMVAE, load_model
from senmvae.model.config import ModelConfig
from tests.data import builders
from tests.generate.helpers import save_run, stochastic_tiny, write_clean_folder
from tests.model.test_official import _to_official


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return save_run(tmp_path_factory.mktemp("run"), stochastic_tiny())


@pytest.fixture(scope="module")
def official_checkpoint(tmp_path_factory):
    """A small checkpoint in the layout of the authors' code."""
    cfg = ModelConfig(channels=8, growth=4, levels_per_group=(1,), zn_channels=2, num_down=0, level_predictor=None)
    path = tmp_path_factory.mktemp("official") / "official.pth"
    torch.save({_to_official(k): v for k, v in SeNMVAE(cfg).state_dict().items()}, path)
    return path


@pytest.fixture
def deadline():
    """Fail, rather than hang, when a command does not finish in time."""

    def expire(signum, frame):
        raise TimeoutError("the command did not finish within 60 s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def command(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def synthesize(capsys, run_dir, clean, out, *extra) -> tuple[int, str, str]:
    return command(
        capsys, "synthesize", "--model", run_dir, "--input", clean, "--output", out, "--no-progress", "--device",
        "cpu", "--tile-size", "64", "--tile-overlap", "16", *extra,
    )  # fmt: skip


# ---------------------------------------------------------------- 1. symlink loops


def test_data_check_reports_a_symlink_loop_instead_of_hanging(tmp_path, capsys, deadline):
    root = builders.paired_folders(tmp_path / "set", ["a", "b"])
    os.symlink("..", root / "clean" / "loop")
    os.symlink(".", root / "noisy" / "self")

    code, out, _ = command(capsys, "data", "check", root, "--crop", "16")

    assert code == 0
    paired = next(line for line in out.splitlines() if line.startswith("paired "))
    assert paired.split()[1] == "2"  # each pair once
    assert f"SKIPPED  {root / 'clean' / 'loop'}: is a link to {root.resolve()}, a folder that holds it" in out
    assert f"SKIPPED  {root / 'noisy' / 'self'}: is a link to" in out


def test_synthesize_lists_an_input_folder_with_a_self_link_once(run_dir, tmp_path, capsys, deadline):
    clean = write_clean_folder(tmp_path / "clean", [(32, 32), (32, 32)])
    os.symlink(".", clean / "self")
    out = tmp_path / "out"

    code, _, err = synthesize(capsys, run_dir, clean, out)

    assert code == 0
    assert sorted(p.name for p in out.rglob("*.png")) == ["img0.png", "img1.png"]
    assert len(json.loads((out / "pairs.json").read_text())["pairs"]) == 2
    assert f"{clean / 'self'}: is a link to" in err and "loop forever" in err


# ---------------------------------------------------------------- 2. import-official


def test_import_official_writes_exactly_the_output_path_given(official_checkpoint, tmp_path, capsys):
    out = tmp_path / "imported"  # no suffix

    code, printed, _ = command(capsys, "import-official", official_checkpoint, out)

    assert code == 0 and out.is_file() and not out.with_suffix(".safetensors").exists()
    assert f"--model {out}" in printed
    assert NoiseModel.load(out).network.config == load_model(official_checkpoint).config


def test_import_official_into_a_path_under_a_file_is_refused(official_checkpoint, tmp_path, capsys):
    (tmp_path / "afile").write_text("in the way")

    code, _, err = command(capsys, "import-official", official_checkpoint, tmp_path / "afile" / "x.safetensors")
    assert code == 2 and f"{tmp_path / 'afile'} is a file where a folder is needed" in err

    code, _, err = command(capsys, "import-official", official_checkpoint, tmp_path / "model.pth")
    assert code == 2 and "name it .safetensors" in err and not (tmp_path / "model.pth").exists()


def test_import_official_of_a_truncated_checkpoint_says_so(official_checkpoint, tmp_path, capsys):
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(official_checkpoint.read_bytes()[:5000])

    code, _, err = command(capsys, "import-official", truncated, tmp_path / "x.safetensors")

    assert code == 2 and f"{truncated} cannot be read: it is truncated or damaged" in err
    assert "weights_only" not in err and not (tmp_path / "x.safetensors").exists()


# ---------------------------------------------------------------- 4. output not writable


def test_output_folder_under_a_file_is_named(run_dir, tmp_path, capsys):
    clean = write_clean_folder(tmp_path / "clean", [(32, 32)])
    (tmp_path / "afile").write_text("in the way")

    code, _, err = synthesize(capsys, run_dir, clean, tmp_path / "afile" / "out")

    assert code == 2 and f"error: {tmp_path / 'afile'} is a file where a folder is needed" in err


@pytest.mark.parametrize(
    "code, expected",
    [
        (errno.ENOSPC, "no space left on the device"),
        (errno.EROFS, "is on a read-only file system; choose an output place on a writable disk"),
        (errno.EACCES, "permission denied for"),
    ],
)
def test_unwritable_output_is_one_message_naming_the_file(run_dir, tmp_path, capsys, monkeypatch, code, expected):
    clean = write_clean_folder(tmp_path / "clean", [(32, 32)])
    out = tmp_path / "out"

    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code))  # as a write() on a full disk: no file named

    monkeypatch.setattr(Image.Image, "save", fail)
    status, _, err = synthesize(capsys, run_dir, clean, out, "--level", "0.03")

    assert status == 2 and expected in err and str(out / "img0.png") in err
    assert len(err.strip().splitlines()) == 1
    assert not [p for p in out.iterdir() if p.is_file()]  # no partial or temporary file left


def test_other_os_errors_are_not_disguised():
    assert fixable_os_error(FileNotFoundError(errno.ENOENT, "No such file or directory", "x")) is None
    assert fixable_os_error(FileExistsError(errno.EEXIST, "File exists", "/no/such/path")) is None


# ---------------------------------------------------------------- 5. --set values that are not YAML


def test_an_override_that_is_not_yaml_is_named(tmp_path, capsys):
    code, _, err = command(capsys, "train", "--preset", "tiny", "--out", tmp_path / "run", "--set", "optim.betas=[0.9,")

    assert code == 2 and "override 'optim.betas=[0.9,': the value '[0.9,' is not valid YAML" in err
    assert not (tmp_path / "run").exists()


# ---------------------------------------------------------------- 7. synthesize: unreadable inputs, damaged state


def test_synthesize_skips_unreadable_inputs_and_resumes_once_they_are_removed(run_dir, tmp_path, capsys):
    clean = write_clean_folder(tmp_path / "clean", [(32, 32)] * 3)
    (clean / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    out = tmp_path / "out"

    code, _, err = synthesize(capsys, run_dir, clean, out)

    assert code == 2
    assert f"skipped {clean / 'broken.png'}: corrupt or truncated" in err
    assert "1 input could not be used and was skipped" in err and f"\n  {clean / 'broken.png'}\n" in err
    assert sorted(p.name for p in out.glob("*.png")) == ["img0.png", "img1.png", "img2.png"]
    assert [p["name"] for p in json.loads((out / "pairs.json").read_text())["pairs"]] == ["img0", "img1", "img2"]

    finished = {p.name: p.stat().st_mtime_ns for p in out.glob("*.png")}
    (clean / "broken.png").unlink()
    code, printed, err = synthesize(capsys, run_dir, clean, out)

    assert code == 0 and "wrote 0 noisy images" in printed and "(3 were already there)" in printed
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.png")} == finished


def test_synthesize_with_a_damaged_settings_file_says_how_to_recover(run_dir, tmp_path, capsys):
    clean = write_clean_folder(tmp_path / "clean", [(32, 32)])
    out = tmp_path / "out"
    assert synthesize(capsys, run_dir, clean, out)[0] == 0
    settings = out / ".synthesize" / "settings.json"
    settings.write_text("")

    code, _, err = synthesize(capsys, run_dir, clean, out)

    assert code == 2 and f"{settings} is empty or damaged" in err
    assert f"delete {settings} to start the folder over" in err and "choose another --output" in err
    settings.unlink()
    assert synthesize(capsys, run_dir, clean, out)[0] == 0


def test_synthesize_skips_inputs_with_non_finite_or_out_of_range_pixels_without_blaming_the_model(
    run_dir, tmp_path, capsys
):
    import tifffile

    clean = write_clean_folder(tmp_path / "clean", [(32, 32)] * 2)
    with_nan = np.full((32, 32, 3), 0.5, np.float32)
    with_nan[7, 9, 2] = np.nan
    tifffile.imwrite(clean / "nan.tif", with_nan, photometric="rgb")
    tifffile.imwrite(clean / "bytes.tif", np.full((32, 32, 3), 200.0, np.float32), photometric="rgb")
    out = tmp_path / "out"

    for attempt in range(2):  # the rerun skips them again, and keeps the good outputs
        code, printed, err = synthesize(capsys, run_dir, clean, out, "--level", "0.03")

        assert code == 2
        assert f"skipped {clean / 'nan.tif'}: 1 of its 3072 pixel values are not finite (NaN or inf)" in err
        assert f"skipped {clean / 'bytes.tif'}: its float pixel values run from 200 to 200, far outside" in err
        assert "2 inputs could not be used and were skipped" in err
        assert "weights" not in err and "diverged" not in err and "checkpoint" not in err
        assert f"wrote {2 - 2 * attempt} noisy images" in printed
        assert sorted(p.name for p in out.glob("*.png")) == ["img0.png", "img1.png"]
        assert [p["name"] for p in json.loads((out / "pairs.json").read_text())["pairs"]] == ["img0", "img1"]


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "warm"])
def test_synthesize_refuses_a_temperature_that_is_not_a_finite_number_when_reading_it(run_dir, tmp_path, capsys, value):
    clean = write_clean_folder(tmp_path / "clean", [(32, 32)])
    out = tmp_path / "out"

    with pytest.raises(SystemExit) as exit_:
        main(["synthesize", "--model", str(run_dir), "--input", str(clean), "--output", str(out),
              f"--temperature={value}"])  # fmt: skip

    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "argument --temperature: must be a finite number >= 0" in err and value in err
    assert not out.exists()  # nothing that could refuse the next run
    assert synthesize(capsys, run_dir, clean, out, "--temperature", "0.5", "--level", "0.03")[0] == 0


def test_synthesize_names_gif_and_webp_inputs_as_formats_it_does_not_read(run_dir, tmp_path, capsys):
    only_gif = tmp_path / "gif"
    only_gif.mkdir()
    Image.new("RGB", (32, 32), (90, 120, 150)).save(only_gif / "a.gif")
    Image.new("RGB", (32, 32), (90, 120, 150)).save(only_gif / "b.webp")

    code, _, err = synthesize(capsys, run_dir, only_gif, tmp_path / "out1", "--level", "0.03")

    assert code == 2 and "spec" not in err
    assert f"input folder {only_gif} holds no image in a format this tool reads (PNG, TIFF, JPEG or BMP)" in err
    assert f"it holds 2 GIF/WebP images ({only_gif / 'a.gif'}, {only_gif / 'b.webp'}): GIF/WebP is not a format" in err

    mixed = write_clean_folder(tmp_path / "mixed", [(32, 32)])
    Image.new("RGB", (32, 32)).save(mixed / "c.gif")
    code, _, err = synthesize(capsys, run_dir, mixed, tmp_path / "out2", "--level", "0.03")

    assert code == 0
    assert f"warning: left out 1 GIF image ({mixed / 'c.gif'}): GIF is not a format this tool reads" in err
    assert "convert them to PNG to include them" in err


def test_synthesize_with_an_empty_model_name_or_a_training_checkpoint_points_the_right_way(run_dir, tmp_path, capsys):
    clean = write_clean_folder(tmp_path / "clean", [(32, 32)])

    code, _, err = synthesize(capsys, "", clean, tmp_path / "out")
    assert code == 2 and "the model is an empty name; pass a training run folder" in err
    assert "is a folder" not in err

    run = tmp_path / "run"
    checkpoint = run / "checkpoints" / "step_0000040.pt"
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_bytes(b"a training checkpoint")
    code, _, err = synthesize(capsys, checkpoint, clean, tmp_path / "out")
    assert code == 2 and f"{checkpoint} is a checkpoint of the training run {run}" in err
    assert f"pass the run folder {run} instead" in err and f"senmvae train --resume {run}" in err
    assert "official" not in err
