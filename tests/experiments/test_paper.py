"""The paper-experiment runner on tiny data: cells, seeds, resuming, shared runs, the Table 3 protocol."""

import json
from pathlib import Path

import pytest
import torch
import yaml

import senmvae.experiments.run as experiment_run
from senmvae.cli.main import main
from senmvae.data.manifest import read_manifest
from senmvae.errors import UserError
from senmvae.experiments import ExperimentConfig, run_experiment
from senmvae.experiments.run import load_experiment, plan_cells
from tests.train.helpers import write_pairs

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "paper"
SCENES = 12


def tiny_benchmark(data: Path) -> dict:
    return {
        "train": str(data),
        "paired": 4,
        "budget_minutes": 30,
        "preset": "tiny",
        "train_overrides": ["schedule.steps=4", "checkpoint.every=2"],
        "samplers": ["content-exact"],
        "baselines": ["heteroscedastic"],
        "eval_crop": 32,
        "max_eval_pairs": 4,
        "denoiser_training": ["synthetic"],
        "denoiser_draws": 1,
        "denoiser": {"depth": 3, "width": 8, "crop": 16, "batch_size": 4, "steps": 4, "warmup_steps": 1},
        "report_crops": 2,
        "report_crop_size": 16,
    }


def write_experiment(folder: Path, data: Path, cells: list[dict], **changes) -> Path:
    document = {
        "name": "tiny",
        "title": "a tiny experiment",
        "paper": "what the paper says",
        "seeds": [0],
        "benchmark": tiny_benchmark(data),
        "rows": ["senmvae_content_exact"],
        "reference_rows": ["heteroscedastic", "real"],
        "metrics": ["kl_noise_neca", "lag1", "psnr_synthetic"],
        "cells": cells,
    } | changes
    path = folder / "experiment.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


CELLS = [
    {"name": "full", "paper": "0.036"},
    {"name": "no_clean", "paper": "0.070", "train_overrides": ["objective.rec_clean_weight=0"]},
    {"name": "unpaired_0", "settings": ["benchmark.unpaired=0"]},
    {
        "name": "all_pairs",
        "settings": [
            "benchmark.paired=all",
            "benchmark.paired_alone=true",
            "benchmark.synthesize_from=source+paired",
            "benchmark.baselines=[heteroscedastic, second_order]",
        ],
    },
]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    torch.set_num_threads(1)
    data = write_pairs(tmp_path_factory.mktemp("pairs"), scenes=SCENES, size=48)
    folder = tmp_path_factory.mktemp("experiment")
    config = write_experiment(folder, data, CELLS, seeds=[0, 1])
    out = folder / "out"
    cfg = load_experiment(config)
    results = run_experiment(cfg.replace(cells=cfg.cells[:1]), out)  # one cell at two seeds first
    assert main(["paper", str(config), "--out", str(out), "--set", "seeds=[0]"]) == 0
    return cfg, out, results, data


def _cell_document(out: Path, cfg: ExperimentConfig, name: str, seed: int = 0) -> dict:
    run = next(r for r in plan_cells(cfg, out) if r.cell.name == name and r.seed == seed)
    return json.loads((run.folder / "results.json").read_text())


def test_the_table_holds_every_cell_row_and_metric_with_the_seed_spread(finished):
    cfg, out, first, _ = finished
    spread = first["cells"]["full"]["rows"]["senmvae_content_exact"]["kl_noise_neca"]
    assert spread["n"] == 2 and spread["std"] >= 0
    results = json.loads((out / "tiny" / "results.json").read_text())
    assert list(results["cells"]) == [c["name"] for c in CELLS]
    assert results["cells"]["full"]["paper"] == "0.036"
    assert set(results["cells"]["full"]["rows"]) == {"senmvae_content_exact", "heteroscedastic", "real"}
    assert set(results["cells"]["no_clean"]["rows"]) == {"senmvae_content_exact"}  # references once
    for cell in results["cells"].values():
        assert set(cell["rows"]["senmvae_content_exact"]) == set(cfg.metrics)
    table = (out / "tiny" / "results.md").read_text()
    steps = _cell_document(out, cfg, "full")["runs"]["senmvae"]["steps"]
    assert steps > 0 and f"| full | 0.036 | {steps} | senmvae_content_exact |" in table
    assert "(every cell's split)" in table
    assert "<img" in (out / "tiny" / "report.html").read_text()


def test_each_cell_runs_with_its_own_settings(finished):
    cfg, out, _, data = finished
    no_clean = _cell_document(out, cfg, "no_clean")
    assert "objective.rec_clean_weight=0" in no_clean["config"]["train_overrides"]
    full, unpaired = _cell_document(out, cfg, "full"), _cell_document(out, cfg, "unpaired_0")
    # the SeNM-VAE run saw no unpaired image; the denoisers' source images stayed the same
    unpaired_run = next(r for r in plan_cells(cfg, out) if r.cell.name == "unpaired_0" and r.seed == 0)
    manifest = read_manifest(unpaired_run.folder / "split.json")
    assert manifest.dataset.paired and not manifest.dataset.source and not manifest.dataset.target
    assert unpaired["data"]["source"] == full["data"]["source"] > 0
    every = _cell_document(out, cfg, "all_pairs")
    held_out = every["data"]["eval_pairs"]
    assert every["data"]["paired"] == SCENES - held_out and every["data"]["source"] == 0
    assert {"paired_alone", "second_order", "heteroscedastic", "real"} <= set(every["models"])
    assert "psnr_synthetic" in every["models"]["paired_alone"]


def test_a_finished_experiment_resumes_without_running_and_shares_cells(finished, monkeypatch, tmp_path):
    cfg, out, _, data = finished
    monkeypatch.setattr(experiment_run, "run_benchmark", lambda *a, **k: pytest.fail("a finished cell ran again"))
    again = run_experiment(cfg.replace(seeds=(0,)), out)
    assert set(again["cells"]) == {c["name"] for c in CELLS}
    other = load_experiment(write_experiment(tmp_path, data, [{"name": "same_as_full", "paper": "x"}], name="other"))
    assert plan_cells(other, out)[0].folder == plan_cells(cfg, out)[0].folder
    changed = other.replace(benchmark=other.benchmark.replace(budget_minutes=29))
    assert plan_cells(changed, out)[0].folder != plan_cells(cfg, out)[0].folder


def test_the_finetune_protocol_scores_every_row_after_the_same_pretraining(finished, tmp_path):
    _, _, _, data = finished
    benchmark = tiny_benchmark(data) | {"denoiser": {"network": "nafnet", "width": 4, "depth": 1, "crop": 16,
                                                     "unshuffle": 1, "batch_size": 2, "warmup_steps": 1}}  # fmt: skip
    finetune = {"model": "base", "clean": str(data / "clean"), "max_clean": 3, "clean_crop": 32,
                "pretrain_steps": 3, "steps": 2}  # fmt: skip
    config = write_experiment(
        tmp_path, data, [{"name": "one"}], kind="finetune", benchmark=benchmark, finetune=finetune,
        rows=["pretrained", "finetune_real", "finetune_senmvae", "finetune_colored_heteroscedastic"],
        reference_rows=[], metrics=["psnr", "ssim"],
    )  # fmt: skip
    results = run_experiment(load_experiment(config), tmp_path / "out")
    rows = results["cells"]["one"]["rows"]
    assert set(rows) == {"pretrained", "finetune_real", "finetune_senmvae", "finetune_colored_heteroscedastic"}
    seed = results["cells"]["one"]["seeds"]["0"]
    document = json.loads((Path(seed["folder"]) / "results.json").read_text())
    assert document["models"]["finetune_real"]["steps"] == 5 and document["data"]["photos"] == 3
    own = run_experiment(
        load_experiment(config, ["finetune.clean=training", "finetune.max_clean=100"]), tmp_path / "out"
    )
    document = json.loads((Path(own["cells"]["one"]["seeds"]["0"]["folder"]) / "results.json").read_text())
    assert document["data"]["photos"] == document["data"]["training_pairs"] == SCENES - document["data"]["eval_pairs"]


def test_bad_experiments_are_refused_naming_the_file(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ncells: [{name: a}]\nunknown_key: 1\n")
    assert main(["paper", str(bad), "--out", str(tmp_path / "out")]) == 2
    assert "bad.yaml" in capsys.readouterr().err
    missing = write_experiment(tmp_path, tmp_path / "no_such_data", [{"name": "a"}])
    assert main(["paper", str(missing), "--out", str(tmp_path / "out")]) == 2
    assert "no_such_data" in capsys.readouterr().err
    with pytest.raises(UserError, match="distinct"):
        ExperimentConfig.from_dict({"name": "x", "cells": [{"name": "a"}, {"name": "a"}]})


def test_a_model_updated_under_the_same_name_gets_runs_of_its_own(tmp_path):
    model = tmp_path / "mine.safetensors"
    finetune = {"model": str(model)}
    config = write_experiment(tmp_path, tmp_path / "data", [{"name": "one"}], kind="finetune", finetune=finetune)
    with pytest.raises(UserError, match="cell 'one'.*mine.safetensors"):
        plan_cells(load_experiment(config), tmp_path / "out")
    model.write_bytes(b"first weights")
    first = plan_cells(load_experiment(config), tmp_path / "out")[0].folder
    assert plan_cells(load_experiment(config), tmp_path / "out")[0].folder == first
    model.write_bytes(b"retrained weights")
    assert plan_cells(load_experiment(config), tmp_path / "out")[0].folder != first


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_experiment_reads_and_its_cells_apply(path):
    cfg = load_experiment(path)
    assert cfg.name == path.stem and len(cfg.seeds) >= 2
    for cell in cfg.cells:
        plain = [s for s in cell.settings if s != "benchmark.paired=all"]
        applied = cfg.with_overrides(plain)
        assert applied.benchmark.budget_minutes > 0 and cell.name
