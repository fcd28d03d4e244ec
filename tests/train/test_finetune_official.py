"""Fine-tuning from a checkpoint of the authors' code, which has no noise-level predictor."""

import pytest
import torch

from senmvae.cli.main import main
from senmvae.model import SeNMVAE, load_model, load_official
from senmvae.model.config import model_preset
from senmvae.train.config import resolve_config
from senmvae.train.run import initial_model
from senmvae.train.trainer import Trainer
from tests.model.test_official import _to_official
from tests.train.helpers import write_pairs


@pytest.fixture
def official(tmp_path):
    """A tiny network saved as the authors' code saves it: a plain state_dict under their names."""
    torch.manual_seed(0)
    network = SeNMVAE(model_preset("tiny").replace(level_predictor=None, pixel_noise=None))
    path = tmp_path / "official.pth"
    torch.save({_to_official(name): value for name, value in network.state_dict().items()}, path)
    return path


def test_an_official_checkpoint_starts_the_vae_and_gets_a_fresh_level_predictor(official, tmp_path):
    data = write_pairs(tmp_path / "data", scenes=4, size=32)
    cfg, init = initial_model(
        resolve_config("finetune", settings={"data": {"spec": str(data)}, "init": {"weights": str(official)}})
    )
    assert init.level_predictor is None
    assert cfg.model.level_predictor == resolve_config("finetune").model.level_predictor
    assert cfg.data.frequencies[2] > 0  # noisy-only samples stay on: the new predictor labels them
    trainer = Trainer(cfg, "cpu")
    trainer.initialise_weights(init)
    state = trainer.model.state_dict()
    official_state = load_official(official).state_dict()
    assert all(torch.equal(state[name], value) for name, value in official_state.items())
    assert any(name.startswith("level_predictor.") for name in state)


@pytest.mark.parametrize(
    "settings",
    [
        ["--preset", "finetune"],  # the command, as written
        ["--preset", "tiny", "--set", "model.level_predictor=null", "--set", "data.frequencies=[1,1,0]"],
    ],
)
def test_train_fine_tunes_an_official_checkpoint(official, tmp_path, capsys, settings):
    data = write_pairs(tmp_path / "data", scenes=4, size=64)
    run = tmp_path / "run"
    argv = ["train", *settings, "--set", f"init.weights={official}", "--data", str(data), "--steps", "1"]
    argv += ["--set", "validation.every=0", "--set", "data.batch_size=2", "--out", str(run)]
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 0, err
    model = load_model(run / "model.safetensors")
    assert (model.level_predictor is None) == ("model.level_predictor=null" in settings)
    assert model.config.channels == 8  # the checkpoint's sizes, not the preset's
