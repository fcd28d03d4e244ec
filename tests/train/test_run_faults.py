"""Training runs that meet bad state: no readable checkpoint, weights that are not finite."""

import pytest
import torch

from senmvae.cli.main import main
from senmvae.errors import UserError
from senmvae.model import SeNMVAE, model_preset, save_model
from senmvae.train.checkpoint import step_checkpoints
from senmvae.train.run import _checkpoint, resume_run, start_run
from tests.train.helpers import tiny_config


def test_resume_refuses_a_run_whose_checkpoints_are_all_corrupt_and_keeps_its_model(tmp_path, pairs_dir):
    run = tmp_path / "run"
    start_run(tiny_config(pairs_dir, "schedule.steps=5", "validation.every=0"), run)
    for _, path in step_checkpoints(run):
        path.write_bytes(b"not a checkpoint")
    model = (run / "model.safetensors").read_bytes()
    with pytest.warns(UserWarning), pytest.raises(UserError, match="none of its checkpoints can be read"):
        resume_run(run)
    assert (run / "model.safetensors").read_bytes() == model


def test_the_command_says_so_with_exit_code_2(tmp_path, pairs_dir, capsys):
    run = tmp_path / "run"
    start_run(tiny_config(pairs_dir, "schedule.steps=5", "validation.every=0"), run)
    for _, path in step_checkpoints(run):
        path.write_bytes(b"")
    with pytest.warns(UserWarning):
        assert main(["train", "--resume", str(run)]) == 2
    err = capsys.readouterr().err
    assert "cannot be resumed" in err and "Traceback" not in err


def test_weights_that_are_not_finite_are_never_checkpointed_or_published(tmp_path, pairs_dir):
    run = tmp_path / "run"
    trainer = start_run(tiny_config(pairs_dir, "schedule.steps=5", "validation.every=0"), run)
    before = sorted(p.name for p in (run / "checkpoints").iterdir())
    model = (run / "model.safetensors").read_bytes()
    with torch.no_grad():
        next(trainer.model.parameters()).fill_(float("nan"))
    trainer.step += 1
    with pytest.raises(UserError, match="no longer finite.*step 5 checkpoint"):
        _checkpoint(trainer, run)
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == before
    assert (run / "model.safetensors").read_bytes() == model


def test_a_learning_rate_that_is_not_finite_is_refused_before_anything_is_written(tmp_path, pairs_dir, capsys):
    out = tmp_path / "run"
    code = main(["train", "--preset", "tiny", "--data", str(pairs_dir), "--out", str(out), "--set", "optim.lr=inf"])
    assert code == 2 and "optim.lr" in capsys.readouterr().err
    assert not out.exists()


def test_a_run_none_of_whose_steps_was_finite_publishes_nothing_and_says_what_to_change(tmp_path, pairs_dir, capsys):
    huge = SeNMVAE(model_preset("tiny"))
    with torch.no_grad():
        for param in huge.parameters():
            param.mul_(1e30)  # finite weights whose outputs are not
    init = save_model(huge, tmp_path / "huge.safetensors")
    out = tmp_path / "run"

    code = main(
        ["train", "--preset", "tiny", "--data", str(pairs_dir), "--out", str(out), "--set", "schedule.steps=3",
         "--set", "validation.every=0", "--set", f"init.weights={init}"]
    )  # fmt: skip

    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert f"{out}: none of its 3 steps updated the weights (3 skipped because the loss or its gradient was not" in err
    assert f"nothing was saved or published. Check the data (senmvae data check {pairs_dir})" in err
    assert f"and init.weights ({init}): a model whose outputs are not finite" in err
    assert "then lower optim.lr (now " in err and "start again in a new --out folder" in err
    assert not (out / "model.safetensors").exists() and not step_checkpoints(out)
