from pathlib import Path

import pytest

from senmvae.config import ConfigError
from senmvae.train.config import TRAIN_PRESETS, TrainConfig, resolve_config, train_preset

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@pytest.mark.parametrize("name", sorted(TRAIN_PRESETS))
def test_config_files_spell_out_the_presets(name):
    assert TrainConfig.from_yaml(CONFIGS / f"{name}.yaml") == train_preset(name)


def test_paper_preset_is_the_official_recipe():
    cfg = train_preset("paper")
    assert (cfg.optim.lr, cfg.optim.discriminator_lr) == (1e-4, 1e-4)
    assert cfg.schedule.steps == 300_000 and cfg.schedule.milestones == (150_000, 225_000, 270_000, 285_000)
    assert cfg.schedule.gamma == 0.5
    assert (cfg.optim.grad_clip, cfg.optim.skip_grad_norm) == (200.0, 150.0)
    assert (cfg.data.batch_size, cfg.data.crop, cfg.data.frequencies) == (8, 64, (1.0, 1.0, 1.0))
    assert cfg.model.channels == 64 and cfg.model.levels_per_group == (2, 4)
    assert cfg.objective.kl_anneal_steps == 10_000 and cfg.perceptual.kind == "effnet"


def test_layers_apply_in_order_preset_file_flags_overrides(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("optim: {lr: 0.002, ema_decay: 0.99}\nseed: 5\n")
    cfg = resolve_config("cpu", path, ["optim.lr=0.003"], settings={"seed": 7, "data": {"spec": "x"}})
    assert cfg.model == train_preset("cpu").model  # from the preset
    assert cfg.optim.ema_decay == 0.99  # from the file
    assert cfg.seed == 7 and cfg.data.spec == "x"  # flags beat the file
    assert cfg.optim.lr == 0.003  # --set is last
    assert cfg.data.crop == 64  # untouched keys keep the preset's value


def test_unknown_key_in_a_file_is_named_with_the_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("optim:\n  learning_rate: 0.1\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml.*'learning_rate' in 'optim'"):
        resolve_config("tiny", path)


def test_unknown_override_key_is_named():
    with pytest.raises(ConfigError, match="'checkpoints'"):
        resolve_config("tiny", overrides=["checkpoints.every=3"])
    with pytest.raises(ConfigError, match="unknown training preset 'gpu'"):
        train_preset("gpu")


def test_impossible_settings_are_refused():
    with pytest.raises(ConfigError, match="multiple of 4"):
        resolve_config("cpu", overrides=["data.crop=66"])
    with pytest.raises(ConfigError, match="micro_batches"):
        resolve_config("tiny", overrides=["optim.micro_batches=3"])
    with pytest.raises(ConfigError, match="best_metric"):
        resolve_config("tiny", overrides=["validation.best_metric=fid"])
    with pytest.raises(ConfigError, match="level predictor"):
        resolve_config("tiny", overrides=["model.level_predictor=null"])


def test_presets_are_copies():
    train_preset("tiny").seed = 99
    assert train_preset("tiny").seed == 0


def test_config_round_trips_through_yaml(tmp_path):
    cfg = resolve_config("tiny", overrides=["optim.ema_decay=0.9", "data.paired=3"])
    cfg.to_yaml(tmp_path / "c.yaml")
    assert TrainConfig.from_yaml(tmp_path / "c.yaml") == cfg
