import os
import signal
import subprocess
import sys

import pytest
import torch

from senmvae.errors import UserError
from senmvae.train.checkpoint import (
    latest_checkpoint,
    load_checkpoint,
    prune_checkpoints,
    save_checkpoint,
    step_checkpoints,
    step_path,
)


def payload(step: int) -> dict:
    return {"step": step, "weights": torch.full((3,), float(step)), "config": {"seed": 0}, "best": None}


def test_checkpoint_loads_with_weights_only_and_carries_its_format(tmp_path):
    path = save_checkpoint(payload(7), step_path(tmp_path, 7))
    assert path.name == "step_0000007.pt"
    loaded = load_checkpoint(path)
    assert loaded["format"] == "senmvae-train-checkpoint" and loaded["step"] == 7
    assert torch.equal(loaded["weights"], torch.full((3,), 7.0))
    assert not list(path.parent.glob(".*.tmp"))


def test_keeps_the_last_n_and_ignores_other_files(tmp_path):
    for step in (5, 10, 15, 20):
        save_checkpoint(payload(step), step_path(tmp_path, step))
    save_checkpoint(payload(10), step_path(tmp_path, 0).with_name("best.pt"))
    prune_checkpoints(tmp_path, keep_last=2)
    assert [s for s, _ in step_checkpoints(tmp_path)] == [15, 20]
    assert (step_path(tmp_path, 0).with_name("best.pt")).exists()


def test_latest_falls_back_past_a_damaged_newest_file(tmp_path):
    save_checkpoint(payload(5), step_path(tmp_path, 5))
    step_path(tmp_path, 10).write_bytes(b"not a checkpoint")
    with pytest.warns(UserWarning, match="step_0000010.pt cannot be read"):
        assert latest_checkpoint(tmp_path)["step"] == 5
    with pytest.raises(UserError, match="cannot be read"):
        load_checkpoint(step_path(tmp_path, 10))


def test_other_torch_files_are_not_taken_for_checkpoints(tmp_path):
    torch.save({"step": 1}, tmp_path / "x.pt")
    with pytest.raises(UserError, match="not a senmvae training checkpoint"):
        load_checkpoint(tmp_path / "x.pt")
    assert latest_checkpoint(tmp_path) is None


WRITER = """
import os, sys, time, torch
from senmvae.train.checkpoint import save_checkpoint, step_path
run = sys.argv[1]
save_checkpoint({"step": 5, "weights": torch.ones(1000)}, step_path(run, 5))
def stall(fd):
    print("writing", flush=True)
    time.sleep(60)
os.fsync = stall
save_checkpoint({"step": 10, "weights": torch.zeros(1000)}, step_path(run, 10))
"""


def test_kill_while_writing_leaves_the_previous_checkpoint_loadable(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"  # the new file's bytes are out, not renamed yet
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert (tmp_path / "checkpoints" / ".step_0000010.pt.tmp").exists()
    assert [s for s, _ in step_checkpoints(tmp_path)] == [5]
    loaded = latest_checkpoint(tmp_path)
    assert loaded["step"] == 5 and torch.equal(loaded["weights"], torch.ones(1000))
