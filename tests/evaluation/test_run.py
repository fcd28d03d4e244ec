import json

import pytest
import torch

from senmvae.cli.main import main
from senmvae.downstream import DnCNNConfig
from senmvae.evaluation import BenchmarkConfig, run_benchmark
from senmvae.model import SeNMVAE
from senmvae.model.config import model_preset
from senmvae.model.io import save_model
from tests.train.helpers import write_pairs

RUNS = ("senmvae", "senmvae_finetuned", "senmvae_paired_only")
ROWS = [r + s for r in RUNS for s in ("", "_content_exact")] + [
    "awgn",
    "heteroscedastic",
    "colored_heteroscedastic",
    "real",
]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    torch.set_num_threads(1)
    data = write_pairs(tmp_path_factory.mktemp("pairs"), scenes=12, size=48)
    out = tmp_path_factory.mktemp("bench")
    pretrained = save_model(SeNMVAE(model_preset("tiny")), tmp_path_factory.mktemp("init") / "tiny.safetensors")
    cfg = BenchmarkConfig(
        train=str(data),
        init=str(pretrained),
        paired=4,
        budget_minutes=0.4,
        preset="tiny",
        finetune_preset="tiny",
        train_overrides=("schedule.steps=6", "checkpoint.every=3"),
        eval_crop=32,
        denoiser=DnCNNConfig(depth=3, width=8, crop=16, batch_size=4, steps=6, warmup_steps=1),
        report_crops=2,
        report_crop_size=16,
    )
    return run_benchmark(cfg, out), out


def test_results_hold_every_model_metric_and_the_validity_verdict(finished):
    document, out = finished
    assert json.loads((out / "results.json").read_text()) == json.loads(json.dumps(document))
    models = document["models"]
    assert [n for n in document["model_order"] if "predicted" not in n and n != "noisy_input"] == ROWS
    for name in ROWS:
        for metric in (
            "psnr",
            "ssim",
            "kl_intensity_senmvae",
            "kl_noise_neca",
            "akld_danet",
            "akld_reverse",
            "fd_effnet_lite0",
            "lag1",
            "channels",
            "spectrum_distance",
            "checkerboard_ratio",
        ):
            assert metric in models[name], (name, metric)
    assert {r + "_predicted_level" for r in ROWS[:6]} | {"noisy_input"} <= set(models)
    runs = document["runs"]
    assert runs["senmvae"]["init"] is None and runs["senmvae_finetuned"]["init"].endswith("tiny.safetensors")
    assert runs["senmvae_paired_only"]["paired_only"] and runs["senmvae_finetuned"]["steps"] >= 1
    assert models["real"]["akld_danet"] == 0 and models["real"]["kl_noise_neca"] == 0
    assert models["real"]["spectrum_distance"] == 0
    gain = models["real"]["psnr"] - models["noisy_input"]["psnr"]
    assert document["downstream"]["real_gain_db"] == pytest.approx(gain, abs=1e-3)
    assert document["downstream"]["valid"] == (gain >= 1.0)
    assert document["data"]["paired"] == 4 and document["data"]["eval_pairs"] >= 1


def test_it_writes_the_split_baselines_runs_table_and_report(finished):
    _, out = finished
    split = json.loads((out / "split.json").read_text())
    scenes = split["scenes"]
    assert not set(scenes["paired"]) & set(scenes["validation"])
    assert not set(scenes["source"]) & set(scenes["target"])
    assert json.loads((out / "baselines" / "awgn.json").read_text())["kind"] == "awgn"
    colored = json.loads((out / "baselines" / "colored_heteroscedastic.json").read_text())
    assert colored["kind"] == "colored_heteroscedastic"
    for run in RUNS:
        assert (out / "runs" / run / "model.safetensors").is_file()
    table = (out / "results.md").read_text()
    assert all(f"| {name} |" in table for name in ROWS + ["noisy_input"])
    html = (out / "report.html").read_text()
    assert "senmvae_paired_only" in html and "http://" not in html and "https://" not in html
    assert "Level control" in html


def test_level_control_records_asked_real_and_produced_levels_per_image(finished):
    document, _ = finished
    control = document["level_control"]
    n = document["data"]["eval_pairs"]
    for name in ROWS:
        assert len(control[name]["asked"]) == len(control[name]["produced"]) == n
    assert control["real"]["produced"] == pytest.approx(control["real"]["asked"])
    assert control["senmvae_predicted_level"]["asked"] != control["senmvae"]["asked"]


def test_flags_override_the_config_file_only_where_given(tmp_path):
    import argparse

    from senmvae.cli.benchmark import add_benchmark_arguments, config_from_args

    (tmp_path / "bench.yaml").write_text("paired: 7\nbudget_minutes: 12\npreset: tiny\ninit: base\n")
    parser = argparse.ArgumentParser()
    add_benchmark_arguments(parser, default_budget=30.0)
    cfg = config_from_args(parser.parse_args(["--config", str(tmp_path / "bench.yaml"), "--seed", "3"]))
    assert (cfg.paired, cfg.budget_minutes, cfg.preset, cfg.init, cfg.seed) == (7, 12.0, "tiny", "base", 3)
    cfg = config_from_args(parser.parse_args(["--paired", "5"]))
    assert (cfg.paired, cfg.budget_minutes, cfg.init) == (5, 30.0, None)


def test_command_refuses_a_folder_without_pairs(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["benchmark", "--train", str(tmp_path / "empty"), "--out", str(tmp_path / "out")]) != 0
    assert "empty" in capsys.readouterr().err


def test_lpips_joins_the_noise_metrics_when_its_weight_files_are_given(tmp_path):
    from senmvae.config import ConfigError
    from senmvae.evaluation.run import EvalSet, noise_metrics
    from tests.features.test_perceptual import _random_lpips_files

    backbone, linear, _, _ = _random_lpips_files(tmp_path)
    g = torch.Generator().manual_seed(0)
    clean = torch.rand(2, 3, 64, 64, generator=g)
    eval_set = EvalSet(["a", "b"], clean, (clean + 0.05 * torch.randn(clean.shape, generator=g)).clamp(0, 1))
    cfg = BenchmarkConfig(lpips_backbone=str(backbone), lpips_linear=str(linear))
    same = noise_metrics(eval_set.noisy, eval_set, cfg)
    other = noise_metrics((clean + 0.2 * torch.randn(clean.shape, generator=g)).clamp(0, 1), eval_set, cfg)
    assert same["lpips_alex"] == pytest.approx(0.0, abs=1e-6) and other["lpips_alex"] > 0
    assert "fid_inception" not in same
    with pytest.raises(ConfigError, match="both"):
        BenchmarkConfig(lpips_backbone=str(backbone))
