"""An output folder of ``synthesize`` belongs to one run at a time, and only files this tool wrote
with the present settings count as finished outputs (senmvae.generate.ownership)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from dataclasses import asdict

import numpy as np
import pytest

from senmvae.cli.main import main
from senmvae.data.io import read_image, write_image
from senmvae.generate import NoiseModel
from senmvae.generate.ownership import Claim
from tests.generate.helpers import save_run, smooth_image, stochastic_tiny, write_clean_folder


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return save_run(tmp_path_factory.mktemp("run"), stochastic_tiny())


@pytest.fixture
def clean_dir(tmp_path):
    return write_clean_folder(tmp_path / "clean", [(32, 32)] * 3)


def synthesize(capsys, run_dir, clean, out, *extra) -> tuple[int, str]:
    code = main(
        ["synthesize", "--model", str(run_dir), "--input", str(clean), "--output", str(out), "--no-progress",
         "--device", "cpu", "--exact", *map(str, extra)]
    )  # fmt: skip
    return code, capsys.readouterr().err


def images(folder) -> dict[str, np.ndarray]:
    return {p.name: read_image(p) for p in sorted(folder.glob("*.png"))}


def claims(out) -> list:
    return sorted((out / ".synthesize").glob("claim-*.json"))


def test_a_second_run_into_a_busy_folder_is_refused_and_the_settings_match_the_images(
    run_dir, clean_dir, tmp_path, capsys, monkeypatch
):
    reference = tmp_path / "reference"
    assert synthesize(capsys, run_dir, clean_dir, reference, "--level", "0.02")[0] == 0
    out = tmp_path / "out"
    real_sample, second = NoiseModel.sample, []

    def sample(self, clean, **kwargs):
        if not second:  # while the first run is generating, a second one starts into the same folder
            second.append(synthesize(capsys, run_dir, clean_dir, out, "--level", "0.06"))
        return real_sample(self, clean, **kwargs)

    monkeypatch.setattr(NoiseModel, "sample", sample)
    monkeypatch.setattr(sys, "argv", ["/usr/bin/senmvae", "synthesize", "--level", "0.02"])  # as the command sees it
    code, _ = synthesize(capsys, run_dir, clean_dir, out, "--level", "0.02")

    refused, message = second[0]
    assert code == 0 and refused == 2
    holder = f"(process {os.getpid()} on {socket.gethostname()}, started "
    assert f"{out} is being written by another synthesize run {holder}" in message
    assert ": senmvae synthesize --level 0.02)" in message
    assert "Use another --output, or wait for it to finish" in message
    settings = json.loads((out / ".synthesize" / "settings.json").read_text())
    manifest = json.loads((out / "pairs.json").read_text())
    assert settings["level"] == manifest["settings"]["level"] == "fixed 0.02"
    assert {p["level"] for p in manifest["pairs"]} == {0.02}
    made, expected = images(out), images(reference)
    assert made.keys() == expected.keys() and all(np.array_equal(made[k], expected[k]) for k in made)
    assert not claims(out)  # released at the end
    code, message = synthesize(capsys, run_dir, clean_dir, out, "--level", "0.06")
    assert code == 2 and "'fixed 0.02' then, 'fixed 0.06' now" in message


def test_the_folder_is_released_on_an_error_and_on_an_interrupt(run_dir, clean_dir, tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    real_sample = NoiseModel.sample

    def interrupted(self, clean, **kwargs):
        raise KeyboardInterrupt

    def not_finite(self, clean, **kwargs):
        return real_sample(self, clean, **kwargs) * float("nan")

    monkeypatch.setattr(NoiseModel, "sample", interrupted)
    assert synthesize(capsys, run_dir, clean_dir, out)[0] == 130
    assert (out / ".synthesize").is_dir() and not claims(out)
    monkeypatch.setattr(NoiseModel, "sample", not_finite)
    code, message = synthesize(capsys, run_dir, clean_dir, out, "--level", "0.03")
    assert code == 2 and "non-finite values" in message and not claims(out)
    # Neither run wrote an output, so neither left settings behind that would refuse other ones.
    assert not (out / ".synthesize" / "settings.json").exists()
    monkeypatch.setattr(NoiseModel, "sample", real_sample)
    assert synthesize(capsys, run_dir, clean_dir, out, "--level", "0.05")[0] == 0
    assert len(images(out)) == 3 and not claims(out)


def test_a_claim_left_by_a_killed_run_is_stale_and_a_live_one_is_respected(run_dir, clean_dir, tmp_path, capsys):
    out = tmp_path / "out"
    crash = (
        "import os, sys\nfrom pathlib import Path\nfrom senmvae.generate.ownership import owning\n"
        "with owning(Path(sys.argv[1]), 'crashed run'):\n    os.kill(os.getpid(), 9)\n"
    )
    killed = subprocess.run([sys.executable, "-c", crash, str(out)], check=False, timeout=120)
    assert killed.returncode == -9 and len(claims(out)) == 1  # no finally ran: the claim is still there

    assert synthesize(capsys, run_dir, clean_dir, out)[0] == 0
    assert len(images(out)) == 3 and not claims(out)

    # A live process (this test's parent) and a process on another host: their claims hold.
    for host, advice in [(socket.gethostname(), "wait for it to finish"), ("elsewhere", "delete")]:
        claim = Claim("another run", host, os.getppid(), None, "2026-01-01 00:00:00", "senmvae synthesize ...")
        file = out / ".synthesize" / f"claim-{host}.json"
        file.write_text(json.dumps(asdict(claim)))
        code, message = synthesize(capsys, run_dir, clean_dir, out, "--overwrite")
        assert code == 2 and f"(process {os.getppid()} on {host}, started 2026-01-01 00:00:00" in message
        assert advice in message and (advice != "delete" or str(file) in message)
        file.unlink()


def test_files_this_tool_did_not_write_are_refused_not_adopted(run_dir, clean_dir, tmp_path, capsys):
    out = tmp_path / "out"
    write_image(out / "img1.png", read_image(clean_dir / "img1.png"))  # a clean copy where an output goes
    (out / "img2.png").write_bytes(b"")

    code, message = synthesize(capsys, run_dir, clean_dir, out)

    assert code == 2
    assert f"{out} holds 2 files where outputs go that this tool did not write" in message
    assert f"{out / 'img1.png'}, {out / 'img2.png'}" in message and "--overwrite to replace them" in message
    assert not (out / "pairs.json").exists() and not (out / "img0.png").exists()
    assert not (out / ".synthesize" / "settings.json").exists()

    assert synthesize(capsys, run_dir, clean_dir, out, "--overwrite")[0] == 0
    clean, noisy = read_image(clean_dir / "img1.png"), read_image(out / "img1.png")
    assert np.abs(noisy - clean).std() > 0.01  # replaced by a noisy output
    assert [p["noisy"] for p in json.loads((out / "pairs.json").read_text())["pairs"]] == [
        "img0.png",
        "img1.png",
        "img2.png",
    ]


def test_empty_damaged_or_replaced_outputs_are_made_again(run_dir, clean_dir, tmp_path, capsys):
    out = tmp_path / "out"
    assert synthesize(capsys, run_dir, clean_dir, out)[0] == 0
    first = images(out)
    kept = (out / "img0.png").stat().st_mtime_ns
    (out / "img1.png").write_bytes(b"")
    (out / "img2.png").write_bytes((out / "img2.png").read_bytes()[:-40])  # cut short
    code, message = synthesize(capsys, run_dir, clean_dir, out)

    assert code == 0
    assert "2 outputs already in" in message and f"{out / 'img1.png'}, {out / 'img2.png'}" in message
    again = images(out)
    assert again.keys() == first.keys() and all(np.array_equal(again[k], first[k]) for k in first)
    assert (out / "img0.png").stat().st_mtime_ns == kept

    write_image(out / "img0.png", smooth_image(32, 32, seed=9))  # replaced by another image after the run
    assert synthesize(capsys, run_dir, clean_dir, out)[0] == 0
    assert np.array_equal(read_image(out / "img0.png"), first["img0.png"])


def test_outputs_of_an_interrupted_overwrite_are_not_taken_for_the_new_settings(
    run_dir, clean_dir, tmp_path, capsys, monkeypatch
):
    reference = tmp_path / "reference"
    assert synthesize(capsys, run_dir, clean_dir, reference, "--level", "0.05")[0] == 0
    out = tmp_path / "out"
    assert synthesize(capsys, run_dir, clean_dir, out, "--level", "0.02")[0] == 0
    real_replace, renamed = os.replace, []

    def interrupted(src, dst):
        if str(dst).endswith(".png"):
            renamed.append(dst)
            if len(renamed) == 2:
                raise KeyboardInterrupt
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", interrupted)
    assert synthesize(capsys, run_dir, clean_dir, out, "--level", "0.05", "--overwrite")[0] == 130
    monkeypatch.setattr(os, "replace", real_replace)
    # img0 is made at 0.05, img1 and img2 are still those of 0.02: the rerun makes them again.
    code, message = synthesize(capsys, run_dir, clean_dir, out, "--level", "0.05")

    assert code == 0 and "2 outputs already in" in message and "made with other settings" in message
    made, expected = images(out), images(reference)
    assert made.keys() == expected.keys() and all(np.array_equal(made[k], expected[k]) for k in made)
    assert json.loads((out / ".synthesize" / "settings.json").read_text())["level"] == "fixed 0.05"
