"""Both benchmarks refuse, before any SeNM-VAE run trains, whatever would fail after training."""

import json

import pytest

from senmvae.cli.main import main
from senmvae.downstream.sr import RRDBConfig, SRTrainConfig
from tests.data import builders
from tests.train.helpers import write_pairs

TINY = ["--preset", "tiny", "--set", "finetune_preset=tiny", "--set", "train_overrides=[schedule.steps=2]"]
TINY_DENOISER = [*TINY, "--set", "denoiser.crop=16"]


def _refused(capsys, argv: list[str], out, fragment: str) -> str:
    code = main([*argv, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and fragment in err
    assert not (out / "runs").exists()  # no SeNM-VAE run was started
    return err


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    return write_pairs(tmp_path_factory.mktemp("pairs"), scenes=9, size=24)


@pytest.mark.parametrize(
    ("settings", "fragment"),
    [
        (["--init", "nosuch"], "--init nosuch"),
        (["--set", "max_eval_pairs=1"], "holds 1 pair, fewer than the 2"),
        (["--set", "denoiser.crop=32"], "denoiser.crop is 32, larger than"),
        (["--set", "train_overrides=[data.crop=13]"], "data.crop must be a multiple"),
        (["--set", "finetune_preset=nosuch", "--init", "base"], "unknown training preset 'nosuch'"),
        (
            ["--set", 'train_overrides=["model.level_predictor=null", "data.frequencies=[1,1,0]"]'],
            "no noise-level predictor",
        ),
        (["--set", "inception_weights=nosuch.pth"], "nosuch.pth"),
    ],
)
def test_the_denoising_benchmark_refuses_before_training(pairs, tmp_path, capsys, settings, fragment):
    argv = ["benchmark", "--train", str(pairs), "--paired", "4", *TINY_DENOISER, *settings]
    _refused(capsys, argv, tmp_path / "out", fragment)


def test_an_init_that_does_not_exist_is_refused_before_the_data_is_read(pairs, tmp_path, capsys):
    argv = ["benchmark", "--train", str(pairs), "--paired", "4", *TINY_DENOISER, "--init", "nosuch"]
    err = _refused(capsys, argv, tmp_path / "out", "senmvae_finetuned")
    assert "does not exist" in err
    assert not (tmp_path / "out" / "split.json").exists()


@pytest.fixture(scope="module")
def challenge(tmp_path_factory):
    """4 validation pairs of 16x24 LR images."""
    return builders.sr_challenge(tmp_path_factory.mktemp("aim"), "aim2019", lr=(16, 24))


@pytest.mark.parametrize(
    ("settings", "fragment"),
    [
        (["--init", "nosuch"], "--init nosuch"),
        (["--paired", "3"], "holds 1 pair, fewer than the 2"),
        (["--set", f"sr={json.dumps(SRTrainConfig(rrdb=RRDBConfig(features=8), lr_crop=20).to_dict())}"], "sr.lr_crop"),
    ],
)
def test_the_sr_benchmark_refuses_before_training(challenge, tmp_path, capsys, settings, fragment):
    argv = ["benchmark", "--task", "sr", "--train", str(challenge), "--paired", "2", "--init", "base", *TINY]
    _refused(capsys, argv + settings, tmp_path / "out", fragment)
