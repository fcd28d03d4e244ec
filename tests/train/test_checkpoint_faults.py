"""Damaged checkpoints and leftovers of interrupted saves."""

from __future__ import annotations

import errno

import pytest
import torch

from senmvae.train.checkpoint import checkpoint_dir, latest_checkpoint, prune_checkpoints, save_checkpoint, step_path


def payload(step: int) -> dict:
    return {"step": step, "weights": torch.full((3,), float(step))}


def test_a_damaged_checkpoint_is_reported_without_torchs_unsafe_advice(tmp_path):
    save_checkpoint(payload(5), step_path(tmp_path, 5))
    step_path(tmp_path, 10).write_bytes(b"not a checkpoint")  # torch says: re-run with weights_only=False

    with pytest.warns(UserWarning) as caught:
        assert latest_checkpoint(tmp_path)["step"] == 5

    message = str(caught[0].message)
    assert "step_0000010.pt cannot be read" in message and "truncated or damaged" in message
    assert "weights_only" not in message and "arbitrary code" not in message


def test_temporary_files_of_interrupted_or_failed_saves_are_removed(tmp_path, monkeypatch):
    folder = checkpoint_dir(tmp_path)
    folder.mkdir()
    stale = [folder / ".step_0000010.pt.tmp", folder / ".best.pt.tmp"]  # as a killed run leaves them
    for path in stale:
        path.write_bytes(b"partial")
    (folder / "notes.tmp").write_text("not ours")

    save_checkpoint(payload(20), step_path(tmp_path, 20))
    prune_checkpoints(tmp_path, keep_last=2)

    assert not any(path.exists() for path in stale)
    assert (folder / "notes.tmp").exists() and step_path(tmp_path, 20).exists()

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", disk_full)
    with pytest.raises(OSError) as caught:
        save_checkpoint(payload(30), step_path(tmp_path, 30))
    assert caught.value.filename == str(step_path(tmp_path, 30))  # named, for the message of the command
    assert sorted(p.name for p in folder.iterdir()) == ["notes.tmp", "step_0000020.pt"]
