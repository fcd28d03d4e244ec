"""A benchmark run folder is reused only when it was trained with the very same settings and
initial model."""

import pytest
import torch

import senmvae.evaluation.run as benchmark_run
from senmvae.evaluation import BenchmarkConfig
from senmvae.evaluation.run import RunPlan, train_senmvae
from senmvae.model import SeNMVAE
from senmvae.model.config import model_preset
from senmvae.model.io import MODEL_FILE, save_model


@pytest.fixture
def trained(monkeypatch):
    runs = []

    def fake_start_run(train_cfg, run_dir):
        run_dir.mkdir(parents=True)
        (run_dir / MODEL_FILE).write_text(f"run {len(runs)}")
        runs.append(train_cfg)

    monkeypatch.setattr(benchmark_run, "start_run", fake_start_run)
    return runs


def _cfg(init, **changes):
    return BenchmarkConfig(train="unused", init=str(init), preset="tiny", finetune_preset="tiny", **changes)


def test_a_finished_run_is_reused_only_with_the_same_settings_and_initial_model(tmp_path, trained, capsys):
    torch.manual_seed(0)
    init = save_model(SeNMVAE(model_preset("tiny")), tmp_path / "init.safetensors")
    plan = RunPlan("senmvae_finetuned", 1.0, str(init))
    out = tmp_path / "out"
    run_dir = train_senmvae(_cfg(init), plan, "spec", out)
    train_senmvae(_cfg(init), plan, "spec", out)
    assert len(trained) == 1 and "reusing the finished run" in capsys.readouterr().out

    train_senmvae(_cfg(init, train_overrides=("optim.lr=1e-5",)), plan, "spec", out)
    assert len(trained) == 2 and "other settings or another initial model" in capsys.readouterr().out
    assert (run_dir / MODEL_FILE).read_text() == "run 1"
    assert (run_dir.with_name(f"{plan.name}.previous") / MODEL_FILE).read_text() == "run 0"  # kept, not lost

    save_model(SeNMVAE(model_preset("tiny")), init)  # another model under the same file name
    train_senmvae(_cfg(init, train_overrides=("optim.lr=1e-5",)), plan, "spec", out)
    assert len(trained) == 3 and (run_dir.with_name(f"{plan.name}.previous-2") / MODEL_FILE).read_text() == "run 1"


def test_a_run_finished_before_its_settings_were_recorded_is_trained_again(tmp_path, trained):
    init = save_model(SeNMVAE(model_preset("tiny")), tmp_path / "init.safetensors")
    plan = RunPlan("senmvae_finetuned", 1.0, str(init))
    run_dir = tmp_path / "out" / "runs" / plan.name
    run_dir.mkdir(parents=True)
    (run_dir / MODEL_FILE).write_text("old")
    (run_dir / "benchmark_done").write_text("finished\n")
    train_senmvae(_cfg(init), plan, "spec", tmp_path / "out")
    assert len(trained) == 1 and (run_dir / MODEL_FILE).read_text() == "run 0"
