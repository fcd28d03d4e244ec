"""The demo fine-tunes the shipped base model and synthesizes held-out images with content-exact sampling."""

import json

from senmvae.cli.main import main
from tests.train.helpers import write_pairs


def test_demo_fine_tunes_base_and_writes_the_report_and_examples(tmp_path, capsys):
    data = write_pairs(tmp_path / "pairs", scenes=12, size=48)
    out = tmp_path / "demo"
    code = main([
        "demo", "--data", str(data), "--paired", "4", "--budget", "0.5", "--out", str(out), "--preset", "tiny",
        "--set", "finetune_preset=tiny", "--set", "eval_crop=32", "--set", "report_crops=2",
        "--set", "report_crop_size=16", "--set", "train_overrides=[schedule.steps=4]",
        "--set", "denoiser={depth: 3, width: 8, crop: 16, batch_size: 4, steps: 4, warmup_steps: 1}",
    ])  # fmt: skip
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    assert results["runs"]["senmvae_finetuned"]["init"] == "base" and "senmvae" not in results["runs"]
    assert "senmvae_finetuned_content_exact" in results["models"]
    assert (out / "report.html").is_file() and any((out / "examples" / "noisy").iterdir())
    assert "demo finished" in capsys.readouterr().out


def test_demo_gives_the_colouring_its_own_rate_only_on_the_embedded_set():
    from senmvae.cli.demo import demo_config
    from senmvae.cli.main import get_args_parser

    def config(*flags):
        return demo_config(get_args_parser().parse_args(["demo", *flags]))

    embedded = config()
    assert embedded.init == "base"
    assert embedded.train_overrides == ("optim.pixel_noise_colour_lr=2e-3",)
    assert config("--data", "../somewhere").train_overrides == ()
    mine = config("--set", "train_overrides=[optim.pixel_noise_lr=0]").train_overrides
    assert mine[-1] == "optim.pixel_noise_lr=0"


def test_demo_trains_its_denoisers_on_synthetic_pairs_only_unless_told_otherwise():
    from senmvae.cli.demo import demo_config
    from senmvae.cli.main import get_args_parser

    def config(*flags):
        return demo_config(get_args_parser().parse_args(["demo", *flags]))

    assert config().denoiser_training == ("synthetic",)
    both = config("--set", "denoiser_training=[synthetic, synthetic+paired]").denoiser_training
    assert both == ("synthetic", "synthetic+paired")
