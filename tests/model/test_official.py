import numpy as np
import pytest
import torch

from senmvae.cli.main import main
from senmvae.errors import UserError
from senmvae.model import load_model, load_official
from senmvae.model.official import infer_official_config
from tests.conftest import OFFICIAL_FIXTURE, require


@pytest.fixture(scope="module")
def fixture_io():
    return dict(np.load(require(OFFICIAL_FIXTURE) / "io.npz"))


def _check(model, io):
    with torch.no_grad():
        translated = model.sample(torch.from_numpy(io["clean"]), torch.from_numpy(io["level"]).flatten(), temperature=0)
        denoised = model.denoise(torch.from_numpy(io["noisy"]), temperature=0)
    assert np.abs(translated.numpy() - io["translate_mean"]).max() < 1e-5
    assert np.abs(denoised.numpy() - io["denoise_mean"]).max() < 1e-5


def test_load_official_reproduces_reference_outputs(fixture_io):
    model = load_official(OFFICIAL_FIXTURE / "official_state_dict.pth")
    cfg = model.config
    assert (cfg.channels, cfg.levels_per_group, cfg.zn_channels, cfg.num_down, cfg.growth) == (16, (1, 2), 4, 0, 32)
    assert model.level_predictor is None
    _check(model, fixture_io)


def test_import_official_command_round_trips_through_safetensors(fixture_io, tmp_path):
    out = tmp_path / "official.safetensors"
    assert main(["import-official", str(OFFICIAL_FIXTURE / "official_state_dict.pth"), str(out)]) == 0
    _check(load_model(out), fixture_io)


def test_architecture_inference_handles_stem_downsampling_and_wrappers(tmp_path):
    from senmvae.model import SeNMVAE
    from senmvae.model.config import ModelConfig

    cfg = ModelConfig(channels=8, growth=4, levels_per_group=(2, 1, 1), zn_channels=3, num_down=1, level_predictor=None)
    ours = SeNMVAE(cfg).state_dict()
    official = {}
    for name, value in ours.items():  # build the official names back from ours
        official[_to_official(name)] = value
    assert infer_official_config(official) == cfg
    path = tmp_path / "wrapped.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in official.items()}}, path)
    loaded = load_official(path)
    for name, value in loaded.state_dict().items():
        assert torch.equal(value, ours[name])


def _to_official(name: str) -> str:
    import re

    enc = {"clean_encoder": "H", "noisy_encoder": "L", "degradation_encoder": "N"}
    head = {"q_z_clean": "Gauconv_z_H", "q_z_noisy": "Gauconv_z_L", "q_zn": "Gauconv_zn_q", "p_zn": "Gauconv_zn_p"}
    rdb = lambda s: re.sub(r"convs\.(\d)\.", lambda m: f"net.conv{int(m.group(1)) + 1}.", s)  # noqa: E731
    if m := re.fullmatch(r"(\w+_encoder)\.stem\.0\.(.+)", name):
        return f"inconv_{enc[m.group(1)]}.0.{m.group(2)}"
    if m := re.fullmatch(r"(\w+_encoder)\.stem\.(\d+)\.conv\.(.+)", name):
        return f"inconv_{enc[m.group(1)]}.{m.group(2)}.down.1.{m.group(3)}"
    if m := re.fullmatch(r"(\w+_encoder)\.blocks\.(\d+)\.(.+)", name):
        rest = m.group(3)
        rest = rdb(rest) if rest.startswith("convs") else rest.replace("conv.", "down.1.")
        return f"encs_{enc[m.group(1)]}.{m.group(2)}.{rest}"
    if m := re.fullmatch(r"levels\.(\d+)\.(q_z_clean|q_z_noisy|q_zn|p_zn)\.(mean|log_sigma)\.(\d)\.(.+)", name):
        branch = "m" if m.group(3) == "mean" else "v"
        return f"{head[m.group(2)]}.{m.group(1)}.{branch}.{m.group(4)}.{rdb(m.group(5))}"
    if m := re.fullmatch(r"levels\.(\d+)\.block\.(.+)", name):
        rest = m.group(2)
        rest = rdb(rest) if rest.startswith("convs") else rest.replace("conv.", "up.1.")
        return f"dec.{m.group(1)}.{rest}"
    if m := re.fullmatch(r"levels\.(\d+)\.(proj_zn?)\.(.+)", name):
        return f"{m.group(2)}.{m.group(1)}.{m.group(3)}"
    if m := re.fullmatch(r"output\.(\d+)\.conv\.(.+)", name):
        return f"outconv.{m.group(1)}.up.1.{m.group(2)}"
    if m := re.fullmatch(r"output\.(\d+)\.(.+)", name):
        return f"outconv.{m.group(1)}.{m.group(2)}"
    raise AssertionError(name)


def test_non_checkpoints_are_refused_with_the_file_named(tmp_path):
    bad = tmp_path / "notes.pth"
    bad.write_text("not a checkpoint")
    with pytest.raises(UserError, match="notes.pth"):
        load_official(bad)
    unsafe = tmp_path / "unsafe.pth"
    torch.save({"x": torch.zeros(1), "obj": object.__new__(_Custom)}, unsafe)
    with pytest.raises(UserError, match="refused for safety"):
        load_official(unsafe)
    partial = tmp_path / "partial.pth"
    torch.save({"inconv_H.0.weight": torch.zeros(4, 3, 1, 1)}, partial)
    with pytest.raises(UserError, match="not a checkpoint of the official"):
        load_official(partial)


class _Custom:
    pass
