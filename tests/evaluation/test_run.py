import json
import time

import numpy as np
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
MODES = {"synthetic": "synthetic", "synthetic+paired": "synthetic_paired"}  # training mode: column suffix
ROWS = [r + s for r in RUNS for s in ("", "_content_exact")] + [
    "awgn",
    "heteroscedastic",
    "colored_heteroscedastic",
    "real",
]


class SlowSynthesis:
    """A noise model that takes its time over every draw, as SeNM-VAE does next to a Gaussian."""

    def __init__(self, model, seconds: float):
        self.model, self.seconds = model, seconds

    def sample(self, *args, **kwargs):
        time.sleep(self.seconds)
        return self.model.sample(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.model, name)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    import senmvae.evaluation.run as benchmark_run

    torch.set_num_threads(1)
    data = write_pairs(tmp_path_factory.mktemp("pairs"), scenes=12, size=48)
    out = tmp_path_factory.mktemp("bench")
    pretrained = save_model(SeNMVAE(model_preset("tiny")), tmp_path_factory.mktemp("init") / "tiny.safetensors")
    cfg = BenchmarkConfig(
        train=str(data),
        init=str(pretrained),
        paired=4,
        budget_minutes=30,  # the runs stop at schedule.steps; the denoisers' share affords all their steps
        preset="tiny",
        finetune_preset="tiny",
        train_overrides=("schedule.steps=6", "checkpoint.every=3"),
        eval_crop=32,
        denoiser=DnCNNConfig(depth=3, width=8, crop=16, batch_size=4, steps=6, warmup_steps=1),
        denoiser_seeds=2,
        report_crops=2,
        report_crop_size=16,
    )
    build_rows = benchmark_run.build_rows

    def with_a_slow_row(*args):
        rows = build_rows(*args)
        rows.sources["heteroscedastic"] = SlowSynthesis(rows.sources["heteroscedastic"], 0.3)
        return rows

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(benchmark_run, "build_rows", with_a_slow_row)
        return run_benchmark(cfg, out), out


def test_results_hold_every_model_metric_and_the_validity_verdict(finished):
    document, out = finished
    assert json.loads((out / "results.json").read_text()) == json.loads(json.dumps(document))
    models = document["models"]
    assert [n for n in document["model_order"] if "predicted" not in n and n != "noisy_input"] == ROWS
    for name in ROWS:
        for metric in (
            "psnr_synthetic",
            "ssim_synthetic",
            "psnr_synthetic_paired",
            "ssim_synthetic_paired",
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
    gains = {mode: models["real"][f"psnr_{key}"] - models["noisy_input"]["psnr"] for mode, key in MODES.items()}
    assert document["downstream"]["modes"] == pytest.approx(gains, abs=1e-3)
    assert document["downstream"]["real_gain_db"] == pytest.approx(min(gains.values()), abs=1e-3)
    assert document["downstream"]["valid"] == (min(gains.values()) >= 1.0)
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


def test_every_denoiser_trains_the_same_steps_however_slow_its_noise_model(finished):
    document, _ = finished
    downstream = document["downstream"]
    steps = downstream["steps"]
    assert 1 <= steps <= 6 and downstream["training"] == list(MODES) and downstream["seeds"] == [0, 1]
    for name in ROWS:
        assert document["models"][name]["denoiser_steps"] == steps
        for mode in MODES:
            assert [run["steps"] for run in downstream["per_seed"][name][mode]] == [steps, steps], (name, mode)
    assert document["timing"]["denoiser_pairs_synthesis_s"] > 0.3  # the slow row's draws came before training


def test_each_training_mode_has_its_columns_with_the_mean_and_spread_over_the_seeds(finished):
    document, out = finished
    models, per_seed = document["models"], document["downstream"]["per_seed"]
    for name in ROWS:
        for mode, key in MODES.items():
            psnrs = [run["psnr"] for run in per_seed[name][mode]]
            assert models[name][f"psnr_{key}"] == pytest.approx(sum(psnrs) / 2)
            assert models[name][f"psnr_{key}_std"] == pytest.approx(abs(psnrs[0] - psnrs[1]) / 2**0.5)
    assert models["awgn"]["psnr_synthetic_std"] > 0  # two seeds, two different denoisers
    for key in MODES.values():
        assert models["noisy_input"][f"psnr_{key}"] == models["noisy_input"]["psnr"]
    table = (out / "results.md").read_text()
    assert "PSNR dB (synthetic) ↑" in table and "PSNR dB (synthetic+paired) ↑" in table
    awgn = models["awgn"]
    assert f"| awgn | {awgn['psnr_synthetic']:.2f} ± {awgn['psnr_synthetic_std']:.2f} |" in table
    assert f"every one {document['downstream']['steps']} steps" in table


def test_synthetic_only_training_has_only_its_columns_and_the_real_row_trains_on_the_source_partners(tmp_path):
    from senmvae.baselines import AWGN, RealNoiseOracle
    from senmvae.evaluation.run import NoiseRows, denoiser_source_pairs, prepare_data, train_denoisers

    cfg = BenchmarkConfig(
        train=str(write_pairs(tmp_path / "pairs", scenes=12, size=48)),
        paired=4,
        eval_crop=32,
        denoiser=DnCNNConfig(depth=3, width=8, crop=16, batch_size=4, steps=3, warmup_steps=1),
        denoiser_training=("synthetic",),
        denoiser_draws=3,
        report_crop_size=16,
    )
    data = prepare_data(cfg, tmp_path / "bench", crop=16, multiple=4)
    rows = NoiseRows({"awgn": AWGN.fit(data.paired_arrays), "real": RealNoiseOracle.fit(data.oracle_pairs)}, [])
    pools = denoiser_source_pairs(cfg, rows, data)
    scores, per_seed, _, _ = train_denoisers(cfg, rows, data, pools, 2, windows=[(0, 0, 0)])
    for name in ("awgn", "real"):
        assert set(scores[name]) == {"psnr_synthetic", "ssim_synthetic", "denoiser_steps"}
        assert list(per_seed[name]) == ["synthetic"] and per_seed[name]["synthetic"][0]["steps"] == 2
    # one seed: the real partners of the source images, and 3 noisy versions of each of them
    (real,), (awgn,) = pools["real"], pools["awgn"]
    assert len(real) == len(data.dataset.source) and len(awgn) == 3 * len(real)
    for i, (clean, noisy) in enumerate(real):
        assert all(np.array_equal(c, clean) for c, _ in awgn[3 * i : 3 * i + 3]) and not np.array_equal(noisy, clean)


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
    assert cfg.denoiser_training == ("synthetic", "synthetic+paired") and cfg.denoiser_seeds == 1
    (tmp_path / "modes.yaml").write_text("denoiser_training: [synthetic]\ndenoiser_seeds: 3\n")
    cfg = config_from_args(parser.parse_args(["--config", str(tmp_path / "modes.yaml"), "--set", "denoiser_draws=5"]))
    assert (cfg.denoiser_training, cfg.denoiser_seeds, cfg.denoiser_draws) == (("synthetic",), 3, 5)
    cfg = config_from_args(parser.parse_args(["--set", "denoiser_training=[synthetic+paired]"]))
    assert cfg.denoiser_training == ("synthetic+paired",)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"denoiser_training": ("paired",)}, "denoiser_training must be one or both of synthetic, synthetic\\+paired"),
        ({"denoiser_training": ()}, "denoiser_training must be"),
        ({"denoiser_training": ("synthetic", "synthetic")}, "each once"),
        ({"denoiser_seeds": 0}, "denoiser_seeds and denoiser_draws must be at least 1"),
        ({"denoiser_draws": 0}, "denoiser_seeds and denoiser_draws must be at least 1"),
        ({"paired_fraction": 1.5}, "paired_fraction must be within"),
    ],
)
def test_bad_denoiser_settings_are_refused_with_one_message(setting, message):
    from senmvae.config import ConfigError

    with pytest.raises(ConfigError, match=message):
        BenchmarkConfig(**setting)


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


@pytest.mark.parametrize("level", ["crop", "image"])
def test_a_run_trained_on_whole_image_levels_is_sampled_at_the_exact_level(tmp_path, level):
    """The benchmark's rows sample each run as synthesis would: matching the level when the
    run's file says it was trained on whole-image levels."""
    from types import SimpleNamespace

    from senmvae.evaluation.run import build_rows

    run = tmp_path / "run"
    run.mkdir()
    save_model(SeNMVAE(model_preset("tiny")), run / "model.safetensors", extra_metadata={"level": level})
    rng = np.random.default_rng(0)
    clean = rng.uniform(0.2, 0.8, (32, 32, 3)).astype(np.float32)
    pair = (clean, (clean + rng.normal(0, 0.02, clean.shape)).astype(np.float32))
    data = SimpleNamespace(dataset=SimpleNamespace(target=[]), paired_arrays=[pair], oracle_pairs=[pair])
    cfg = BenchmarkConfig(train="unused", preset="tiny", baselines=())
    rows = build_rows(cfg, {"senmvae": run}, data)
    models = [rows.sources[name] for name in rows.senmvae]
    assert models and all(model.match_level is (level == "image") for model in models)
