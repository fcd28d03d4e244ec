"""benchmarks/denoiser_judge.py end to end on tiny generated pairs: every source trains the same
steps on each seed, the table and the JSON carry the seeds' spread, and bad settings are refused."""

import json

import pytest
import torch

from senmvae.evaluation.fidelity import benchmark_split, training_pairs
from senmvae.model import SeNMVAE
from senmvae.model.config import PixelNoiseConfig, model_preset
from senmvae.model.io import save_model
from tests.benchmarks import benchmark_module
from tests.train.helpers import write_pairs

TINY_DNCNN = ["--set", "depth=3", "--set", "width=8", "--set", "crop=16", "--set", "warmup_steps=1"]


@pytest.fixture()
def judge(monkeypatch):
    yield from benchmark_module(monkeypatch, "denoiser_judge")


def test_every_source_trains_the_same_steps_per_seed_and_is_scored_on_the_held_out_pairs(judge, tmp_path, capsys):
    torch.set_num_threads(1)
    data = write_pairs(tmp_path / "pairs", scenes=15, size=64)
    model = save_model(SeNMVAE(model_preset("tiny")), tmp_path / "tiny.safetensors")
    out = tmp_path / "judge.json"
    args = [str(model), "--data", str(data), "--steps", "3", "--seeds", "2", "--draws", "2", "--quiet"]
    assert judge.main([*args, *TINY_DNCNN, "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    rows = result["sources"]
    model_rows = [f"{model} (paper)", f"{model} (content-exact)"]
    assert list(rows) == ["awgn", "heteroscedastic", "colored", *model_rows, "real"]
    held_out = benchmark_split(data).validation
    assert result["held_out_pairs"] == len(held_out) and result["training_pairs"] == len(training_pairs(data))
    assert result["training_pairs"] + result["held_out_pairs"] == 15
    for row in rows.values():
        assert row["steps"] == [3] and [r["seed"] for r in row["runs"]] == [0, 1]
        psnrs = [r["psnr"] for r in row["runs"]]
        assert row["psnr"]["mean"] == pytest.approx(sum(psnrs) / 2)
        assert row["psnr"]["std"] == pytest.approx(abs(psnrs[0] - psnrs[1]) / 2**0.5)
    assert rows["real"]["runs"][0]["synthesis_s"] == 0.0  # the real pairs need no synthesis
    assert rows["awgn"]["psnr"]["std"] > 0  # seeds differ in weights, crops and noise
    assert result["real_gain_db"] == pytest.approx(rows["real"]["psnr"]["mean"] - result["input_psnr"], abs=1e-3)
    table = capsys.readouterr().out
    assert "| colored |" in table and "| noisy input |" in table and "±" in table


def test_it_refuses_bad_settings_with_one_message(judge, tmp_path, capsys):
    data = write_pairs(tmp_path / "pairs", scenes=15, size=64)
    assert judge.main(["--data", str(data), "--seeds", "0"]) == 2
    assert "--seeds and --draws must be at least 1, got 0 and 4" in capsys.readouterr().err
    assert judge.main(["--data", str(data), "--draws", "0"]) == 2
    assert "got 3 and 0" in capsys.readouterr().err
    assert judge.main(["--data", str(data), "--set", "depth=1"]) == 2
    assert "depth" in capsys.readouterr().err


def test_parts_adds_each_component_alone_as_its_own_row(judge, tmp_path):
    torch.set_num_threads(1)
    data = write_pairs(tmp_path / "pairs", scenes=15, size=64)
    config = model_preset("tiny").replace(pixel_noise=PixelNoiseConfig(channels=8, layers=2, kernel=3))
    model = save_model(SeNMVAE(config), tmp_path / "tiny.safetensors")
    out = tmp_path / "judge.json"
    args = [str(model), "--data", str(data), "--steps", "2", "--seeds", "1", "--draws", "1", "--quiet"]
    options = ["--samplers", "content-exact", "--baselines", "--no-real", "--parts", "all", "pixel", "zn"]
    assert judge.main([*args, *options, *TINY_DNCNN, "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["sources"]
    assert list(rows) == [
        f"{model} (content-exact)",
        f"{model} (content-exact, pixel alone)",
        f"{model} (content-exact, zn alone)",
    ]
    # one stream per image and version: the parts differ only in which noise is kept
    psnrs = [row["psnr"]["mean"] for row in rows.values()]
    assert len(set(psnrs)) == 3


def test_probes_know_each_training_image_and_refuse_any_other(judge, tmp_path):
    torch.set_num_threads(1)
    data = write_pairs(tmp_path / "pairs", scenes=15, size=64)
    out = tmp_path / "judge.json"
    args = ["--data", str(data), "--steps", "2", "--seeds", "1", "--draws", "2", "--quiet", "--baselines", "colored"]
    probes = ["--no-real", "--probes", "placement-oracle", "own-colouring", "colored-7x7"]
    assert judge.main([*args, *probes, *TINY_DNCNN, "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["sources"]
    assert list(rows) == ["colored", "probe: placement-oracle", "probe: own-colouring", "probe: colored-7x7"]

    train = judge.load_pairs(training_pairs(data))
    oracle = judge.probe_source("placement-oracle", train)
    clean, noisy = train[0]
    x = torch.from_numpy(clean).permute(2, 0, 1)[None].expand(2, -1, -1, -1)
    drawn = oracle.sample(x, level=0.05, generator=[torch.Generator().manual_seed(i) for i in range(2)])
    assert drawn.shape == x.shape and not torch.equal(drawn[0], drawn[1])
    # where the real noise is strong, so is the probe's: its local std follows the real one
    real_std = judge.real_local_std(clean, noisy).flatten()
    probe_std = judge.real_local_std(clean, drawn[0].permute(1, 2, 0).numpy()).flatten()
    assert float(torch.corrcoef(torch.stack([real_std, probe_std]))[0, 1]) > 0.3
    with pytest.raises(judge.UserError, match="training images"):
        oracle.sample(torch.rand(1, 3, 64, 64))
