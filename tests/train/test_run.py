import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from senmvae.cli.main import main
from senmvae.data.io import read_image
from senmvae.errors import UserError
from senmvae.model import SeNMVAE, load_model
from senmvae.train.checkpoint import load_checkpoint, step_checkpoints, step_path
from senmvae.train.config import TrainConfig
from senmvae.train.run import resume_run, start_run
from senmvae.train.run_log import read_metrics
from tests.train.helpers import SUBPROCESS_ENV, TINY_DATA, learned_state, tiny_config


def assert_equal_states(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, f"{len(different)} tensors differ, e.g. {different[:3]}"


def test_run_folder_holds_config_logs_checkpoints_grids_and_model(tmp_path, pairs_dir):
    cfg = tiny_config(pairs_dir, "schedule.steps=10", "logging.tensorboard=true", "logging.every=2")
    trainer = start_run(cfg, tmp_path / "run")
    run = tmp_path / "run"
    # the config as trained: an unset data.level resolved (from scratch: the crop's own level)
    assert TrainConfig.from_yaml(run / "config.yaml") == cfg.merged({"data": {"level": "crop"}})
    records = read_metrics(run / "metrics.jsonl")
    assert [r["step"] for r in records if r["kind"] == "train"] == [2, 4, 6, 8, 10]
    [val] = [r for r in records if r["kind"] == "validation"]
    assert val["step"] == 10 and set(val) >= {"noise_kl", "psnr_recon"}
    assert [s for s, _ in step_checkpoints(run)] == [5, 10]  # keep_last 2
    best = load_checkpoint(run / "checkpoints" / "best.pt")
    assert best["trainer"]["best"] == {"metric": "noise_kl", "value": val["noise_kl"], "step": 10}
    grid = read_image(run / "validation" / "step_0000010.png")
    assert grid.shape == (2 * 32 + 2, 5 * 32 + 4 * 2, 3)  # 2 validation pairs of 32x32, 5 tiles
    assert list((run / "tb").glob("events.out.tfevents.*"))

    exported = load_model(run / "model.safetensors")
    assert_equal_states(exported.state_dict(), trainer.model.state_dict())
    # The checkpoint alone rebuilds its model.
    ckpt = load_checkpoint(step_path(run, 10))
    rebuilt = SeNMVAE(TrainConfig.from_dict(ckpt["config"]).model)
    rebuilt.load_state_dict(ckpt["trainer"]["model"])
    assert_equal_states(rebuilt.state_dict(), trainer.model.state_dict())
    assert ckpt["sampler"]["next_step"] == ckpt["step"] == 10


def _train_in_subprocess(run: Path, pairs_dir: Path, steps: int, wait_for: Path) -> None:
    """Start ``senmvae train`` and SIGKILL it as soon as ``wait_for`` exists."""
    cmd = [
        sys.executable, "-m", "senmvae.cli.main", "train", "--preset", "tiny", "--data", str(pairs_dir),
        "--paired", str(TINY_DATA["paired"]), "--steps", str(steps), "--out", str(run),
        "--set", f"data.validation_fraction={TINY_DATA['validation_fraction']}", "--set", "optim.ema_decay=0.9",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, env=SUBPROCESS_ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not wait_for.exists():
            assert proc.poll() is None, f"training ended before the kill: {proc.stderr.read().decode()}"
            assert time.monotonic() < deadline, "training made no progress"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL


KILL_TEST_STEPS = 12


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, pairs_dir) -> dict:
    cfg = tiny_config(pairs_dir, f"schedule.steps={KILL_TEST_STEPS}", "optim.ema_decay=0.9")
    return learned_state(start_run(cfg, tmp_path_factory.mktemp("uninterrupted") / "run").state_dict())


@pytest.mark.slow
@pytest.mark.parametrize("kill_after", ["config.yaml", "checkpoints/step_0000005.pt"])
def test_run_killed_and_resumed_ends_with_the_weights_of_an_uninterrupted_run(
    tmp_path, pairs_dir, uninterrupted, kill_after
):
    run = tmp_path / "killed"
    _train_in_subprocess(run, pairs_dir, KILL_TEST_STEPS, run / kill_after)
    assert main(["train", "--resume", str(run)]) == 0

    final = load_checkpoint(step_path(run, KILL_TEST_STEPS))["trainer"]
    assert final["step"] == KILL_TEST_STEPS
    assert_equal_states(learned_state(final), uninterrupted)
    train_steps = [r["step"] for r in read_metrics(run / "metrics.jsonl") if r["kind"] == "train"]
    assert train_steps == list(range(1, KILL_TEST_STEPS + 1))


def test_resume_continues_a_finished_run_for_more_steps(tmp_path, pairs_dir):
    run = tmp_path / "run"
    start_run(tiny_config(pairs_dir, "schedule.steps=5", "validation.every=0"), run)
    trainer = resume_run(run, ["schedule.steps=7"])
    assert trainer.step == 7
    assert [s for s, _ in step_checkpoints(run)] == [5, 7]
    assert TrainConfig.from_yaml(run / "config.yaml").schedule.steps == 7
    with pytest.raises(UserError, match="does not fit the configuration"):
        resume_run(run, ["model.channels=12"])


def test_start_refuses_a_used_folder_and_resume_an_empty_one(tmp_path, pairs_dir):
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "notes.txt").write_text("x")
    with pytest.raises(UserError, match="already holds files.*--resume"):
        start_run(tiny_config(pairs_dir), tmp_path / "used")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no run to resume"):
        resume_run(tmp_path / "empty")


def test_cli_names_the_bad_setting_and_refuses_mixed_resume(tmp_path, capsys):
    assert main(["train", "--preset", "tiny", "--set", "optim.bogus=1", "--out", str(tmp_path / "r")]) == 2
    assert "'bogus' in 'optim'" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path / "r"), "--preset", "tiny"]) == 2
    assert "drop --preset" in capsys.readouterr().err
    assert main(["train", "--preset", "tiny"]) == 2
    assert "--out RUN" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
