import json

from senmvae.generate import NoiseModel
from senmvae.model.io import read_metadata
from senmvae.train.checkpoint import latest_checkpoint
from senmvae.train.run import start_run
from tests.train.helpers import tiny_config


def test_max_minutes_stops_early_with_a_checkpoint_and_exported_model(tmp_path, pairs_dir):
    cfg = tiny_config(pairs_dir, "schedule.steps=100000", "schedule.max_minutes=0.002", "checkpoint.every=100000")
    trainer = start_run(cfg, tmp_path / "run")
    assert 0 < trainer.step < 100000
    assert latest_checkpoint(tmp_path / "run")["step"] == trainer.step
    assert read_metadata(tmp_path / "run" / "model.safetensors")["step"] == str(trainer.step)
    steps = [json.loads(line)["step"] for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert steps[-1] == trainer.step


def test_the_exported_model_says_which_level_it_was_conditioned_on(tmp_path, pairs_dir):
    for level in ("crop", "image"):
        cfg = tiny_config(pairs_dir, "schedule.steps=1", "checkpoint.every=100000", f"data.level={level}")
        start_run(cfg, tmp_path / level)
        assert read_metadata(tmp_path / level / "model.safetensors")["level"] == level
        assert NoiseModel.load(tmp_path / level).match_level is (level == "image")


def test_an_unset_level_follows_the_model_the_run_starts_from(tmp_path, pairs_dir):
    start_run(tiny_config(pairs_dir, "schedule.steps=1", "checkpoint.every=100000"), tmp_path / "scratch")
    assert read_metadata(tmp_path / "scratch" / "model.safetensors")["level"] == "crop"
    image = tiny_config(pairs_dir, "schedule.steps=1", "checkpoint.every=100000", "data.level=image")
    start_run(image, tmp_path / "image")
    for init, expected in (("scratch", "crop"), ("image", "image")):
        cfg = tiny_config(pairs_dir, "schedule.steps=1", "checkpoint.every=100000", f"init.weights={tmp_path / init}")
        assert cfg.data.level is None
        start_run(cfg, tmp_path / f"from-{init}")
        assert read_metadata(tmp_path / f"from-{init}" / "model.safetensors")["level"] == expected
        assert f"level: {expected}" in (tmp_path / f"from-{init}" / "config.yaml").read_text()
    crop = tiny_config(pairs_dir, "schedule.steps=1", "checkpoint.every=100000", f"init.weights={tmp_path / 'image'}")
    start_run(crop.with_overrides(["data.level=crop"]), tmp_path / "asked")
    assert read_metadata(tmp_path / "asked" / "model.safetensors")["level"] == "crop"


def test_the_training_crops_carry_the_level_the_config_names(pairs_dir):
    from senmvae.train.run import load_training_set, training_domains

    for level in ("crop", "image"):
        cfg = tiny_config(pairs_dir, f"data.level={level}")
        assert training_domains(cfg, load_training_set(cfg, progress=False)).image_levels is (level == "image")
