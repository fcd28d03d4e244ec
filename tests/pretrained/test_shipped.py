"""The pretrained models that ship with the package work offline, right after install."""

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open

from senmvae.cli.main import main
from senmvae.data.io import read_image, write_image
from senmvae.generate import NoiseModel
from senmvae.model.io import read_metadata
from senmvae.pretrained import PRETRAINED, model_card, pretrained_path
from senmvae.train.config import train_preset


@pytest.mark.parametrize("name", PRETRAINED)
def test_each_shipped_model_is_a_small_float16_file_of_the_cpu_model_with_a_card(name):
    path = pretrained_path(name)
    assert path.stat().st_size < 8e6
    with safe_open(str(path), framework="pt") as fh:
        assert {fh.get_tensor(k).dtype for k in fh.keys()} == {torch.float16}
    model = NoiseModel.load(name)
    cpu = train_preset("cpu").model
    assert model.network.config.channels == cpu.channels and model.network.config.level_scale == cpu.level_scale
    assert all(bool(torch.isfinite(p).all()) for p in model.network.parameters())
    card = model_card(name)
    for fact in ("licence", "steps", "minutes", "held-out"):
        assert fact in card.lower(), fact


@pytest.mark.parametrize("name", PRETRAINED)
def test_each_card_names_the_non_commercial_terms_and_its_noise_structure(name):
    """All three learned from PolyU pairs, whose terms carry over; every card reports the structure
    metrics and the component table on held-out scenes."""
    card = model_card(name).lower()
    assert "non-commercial" in card
    for fact in ("lag-1", "channels", "spectrum distance", "zn alone", "pixel-noise head alone", "denoiser"):
        assert fact in card, fact


@pytest.mark.parametrize("name", PRETRAINED)
def test_a_model_trained_on_whole_image_levels_says_so_and_meets_the_level_exactly(name):
    """The file records the level it was conditioned on, the card says whether synthesis matches
    the asked level, and it does: each image's noise std is the level asked."""
    level = read_metadata(pretrained_path(name)).get("level", "crop")
    model = NoiseModel.load(name, sampler="content-exact")
    assert model.match_level is (level == "image")
    assert ("match_level" in model_card(name)) is (level == "image")
    if model.match_level:
        clean = torch.from_numpy(np.random.default_rng(0).uniform(0.2, 0.8, (2, 3, 32, 32)).astype(np.float32))
        noisy = model.sample(clean, level=[0.01, 0.04], generator=[torch.Generator().manual_seed(i) for i in (0, 1)])
        stds = (noisy - clean).flatten(1).std(1)
        torch.testing.assert_close(stds, torch.tensor([0.01, 0.04]), atol=1e-6, rtol=0)


def test_a_shipped_model_synthesizes_a_folder_by_name(tmp_path):
    rng = np.random.default_rng(0)
    write_image(tmp_path / "in" / "a.png", rng.uniform(0.2, 0.8, (48, 64, 3)).astype(np.float32))
    code = main(["synthesize", "--model", "polyu", "--sampler", "content-exact", "--input", str(tmp_path / "in"),
                 "--output", str(tmp_path / "out"), "--level", "0.02", "--no-progress"])  # fmt: skip
    assert code == 0
    noisy = read_image(tmp_path / "out" / "a.png")
    clean = read_image(tmp_path / "in" / "a.png")
    assert noisy.shape == clean.shape and 0.002 < float(np.std(noisy - clean)) < 0.1


@pytest.mark.parametrize("name", PRETRAINED)
def test_the_listing_the_card_and_the_readme_agree_on_the_steps(name, capsys):
    """The file records its last run; the card and the README count every run and name the last."""
    last = read_metadata(pretrained_path(name))["step"]
    assert main(["models"]) == 0
    assert f"its last training run: {last} steps" in capsys.readouterr().out
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text().splitlines()
    readme_row = next(line for line in readme if line.startswith(f"| `{name}` |"))
    card_row = next(line for line in model_card(name).splitlines() if line.startswith("| steps, minutes, machine |"))
    total = re.search(r"(\d+) steps", readme_row).group(1)
    assert f"{last} steps" in readme_row and f"{last} steps" in card_row and total in card_row


def test_the_models_command_lists_them(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in PRETRAINED)
    assert main(["models", "polyu"]) == 0 and "PolyU" in capsys.readouterr().out
