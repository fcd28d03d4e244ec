import json

import numpy as np
import pytest
import torch

from senmvae.cli.main import main
from senmvae.data import load_spec
from senmvae.data.io import write_image
from senmvae.data.simulated_sr import build_simulated_sr
from senmvae.downstream.sr import RRDBConfig, SRTrainConfig
from senmvae.evaluation.sr_config import SRBenchmarkConfig
from senmvae.evaluation.sr_run import run_sr_benchmark, split_sr, verdict
from senmvae.model import SeNMVAE
from senmvae.model.config import model_preset
from senmvae.model.io import save_model
from tests.data import builders

SENMVAE_ROWS = ["senmvae", "senmvae_content_exact", "senmvae_finetuned", "senmvae_finetuned_content_exact"]
ROWS = SENMVAE_ROWS + ["bicubic", "bicubic_gaussian", "bicubic_colored_gaussian", "second_order"]
TINY_SR = SRTrainConfig(rrdb=RRDBConfig(features=8, growth=4, blocks=1), batch_size=2, lr_crop=8, steps=4)
TINY_RUNS = ("schedule.steps=4", "checkpoint.every=2", "deterministic=false")


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    torch.set_num_threads(1)
    photos = tmp_path_factory.mktemp("photos")
    for i in range(12):
        write_image(photos / f"p{i:02d}.png", builders.image(i, 64, 96))
    data = build_simulated_sr([photos], tmp_path_factory.mktemp("sim") / "set", bundled=False, progress=False)
    init = save_model(SeNMVAE(model_preset("tiny")), tmp_path_factory.mktemp("init") / "tiny.safetensors")
    cfg = SRBenchmarkConfig(
        train=str(data),
        paired=2,
        init=str(init),
        from_scratch=True,
        preset="tiny",
        finetune_preset="tiny",
        train_overrides=TINY_RUNS,
        budget_minutes=0.5,
        eval_crop=0,
        report_crops=2,
        report_crop_size=8,
        sr=TINY_SR,
        realism_fd=False,  # a Frechet distance of 1280-d features costs seconds per row
    )
    out = tmp_path_factory.mktemp("bench")
    return run_sr_benchmark(cfg, out), out, data


def test_every_degradation_model_gets_lr_realism_and_an_sr_network_with_the_same_steps(finished):
    document, out, _ = finished
    assert json.loads((out / "results.json").read_text()) == json.loads(json.dumps(document))
    models = document["models"]
    assert document["model_order"] == ROWS + ["real_pairs", "bicubic_upsampling"]
    for name in ROWS:
        for metric in ("psnr_y", "ssim_y", "psnr_rgb", "ssim_rgb", "effnet_distance", "kl_noise_neca", "akld_danet"):
            assert np.isfinite(models[name][metric]), (name, metric)
        for metric in ("lag1", "channels", "spectrum_distance", "grid_share", "checkerboard_ratio"):
            assert np.isfinite(models[name][metric]), (name, metric)
    assert -1 <= models["bicubic_upsampling"]["lag1"] <= 1  # the real LR noise's own structure
    assert document["degradations"]["bicubic_colored_gaussian"]["kernel_size"] % 2 == 1
    assert {models[n]["sr_steps"] for n in ROWS + ["real_pairs"]} == {4.0}
    assert document["verdict"]["equal_sr_steps"] and document["verdict"]["winner_psnr_y"] in ROWS
    assert models["bicubic"]["lr_level_8bit"] < 1.0 < models["bicubic_gaussian"]["lr_level_8bit"]
    assert document["data"]["paired"] == 2 and document["data"]["eval_pairs"] == 2
    assert document["runs"]["senmvae"]["init"] is None and document["runs"]["senmvae_finetuned"]["steps"] >= 1


def test_the_gaussian_std_is_fitted_on_the_paired_lr_images(finished):
    document, _, data = finished
    paired, _ = split_sr(load_spec(data), 2)
    residuals = np.concatenate([(p.noisy.load() - p.clean.load()).ravel() for p in paired])
    fitted = document["degradations"]["bicubic_gaussian"]["std_8bit"]
    assert fitted == pytest.approx(255 * np.sqrt(np.mean(residuals.astype(np.float64) ** 2)), abs=1e-3)


def test_it_writes_the_split_table_and_an_offline_report_with_grids_and_curves(finished):
    document, out, _ = finished
    split = json.loads((out / "split.json").read_text())
    assert len(split["domains"]["paired"]) == 2 and len(split["domains"]["validation"]) == 2
    table = (out / "results.md").read_text()
    assert all(f"| {name} |" in table for name in document["model_order"]) and "SIMULATED" in table
    html = (out / "report.html").read_text()
    for text in ("Low-resolution images", "Super-resolved crops", "SR networks (training loss)", "Simulated data"):
        assert text in html
    assert "http://" not in html and "https://" not in html and html.count("<img") > 10


def test_the_command_runs_on_a_folder_in_the_aim2019_layout(tmp_path, capsys):
    root = builders.sr_challenge(tmp_path / "aim", "aim2019", lr=(16, 24))
    init = save_model(SeNMVAE(model_preset("tiny")), tmp_path / "tiny.safetensors")
    sets = [f"train_overrides={list(TINY_RUNS)}", "eval_crop=0", "report_crop_size=8", "realism_fd=false"]
    sets += ["preset=tiny", "finetune_preset=tiny", "samplers=[content-exact]"]
    sets += [f"sr={json.dumps(TINY_SR.to_dict())}"]
    argv = ["benchmark", "--task", "sr", "--train", str(root), "--paired", "2", "--init", str(init)]
    argv += ["--budget", "0.3", "--out", str(tmp_path / "out")]
    assert main(argv + [item for s in sets for item in ("--set", s)]) == 0
    printed = capsys.readouterr().out
    assert "| senmvae_finetuned_content_exact |" in printed and "| second_order |" in printed
    document = json.loads((tmp_path / "out" / "results.json").read_text())
    assert document["data"]["simulated"] is False and document["data"]["eval_pairs"] == 2


def test_a_denoising_folder_gets_one_clear_message(tmp_path, capsys):
    root = builders.paired_folders(tmp_path / "pairs", [f"s{i}" for i in range(6)])
    assert main(["benchmark", "--task", "sr", "--train", str(root), "--paired", "2", "--out", str(tmp_path / "o")]) == 2
    assert "--task sr needs" in capsys.readouterr().err
    assert main(["benchmark", "--photos", str(root), "--out", str(tmp_path / "o")]) == 2
    assert "--photos" in capsys.readouterr().err


def test_the_verdict_names_the_winner_and_senmvaes_margin():
    models = {
        "senmvae": {"psnr_y": 24.0, "ssim_y": 0.60},
        "bicubic": {"psnr_y": 23.0, "ssim_y": 0.55},
        "second_order": {"psnr_y": 24.5, "ssim_y": 0.62},
    }
    result = verdict(models, ["senmvae"], list(models))
    assert result["winner_psnr_y"] == "second_order" and result["best_other"] == "second_order"
    assert result["senmvae_margin_psnr_y_db"] == pytest.approx(-0.5)
    assert result["ranking_psnr_y"] == ["second_order", "senmvae", "bicubic"]
