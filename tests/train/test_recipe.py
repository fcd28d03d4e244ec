"""The fast CPU recipe: cosine schedule over steps or minutes, output bias from data, fine-tuning."""

import math

import pytest
import torch

from senmvae.config import ConfigError
from senmvae.model import SeNMVAE, load_model, save_model
from senmvae.train import Trainer
from senmvae.train.config import resolve_config, train_preset
from senmvae.train.run import load_training_set, mean_intensity, start_run
from tests.train.helpers import tiny_batch, tiny_config, write_pairs


def _cosine(**schedule):
    return resolve_config("tiny", settings={"schedule": {"lr_schedule": "cosine", **schedule}, "optim": {"lr": 1.0}})


def test_cosine_warms_up_then_decays_to_the_floor():
    trainer = Trainer(_cosine(steps=100, warmup_steps=10, final_lr_fraction=0.1, milestones=[]))
    assert trainer.lr_factor(0) == pytest.approx(0.1)
    assert trainer.lr_factor(9) == pytest.approx(1.0, abs=0.03)
    assert trainer.lr_factor(50) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert trainer.lr_factor(100) == pytest.approx(0.1)


def test_the_time_budget_drives_the_decay_when_it_ends_first():
    trainer = Trainer(_cosine(steps=1000, warmup_steps=0, final_lr_fraction=0.2, milestones=[]))
    trainer.time_progress = 1.0
    assert trainer.lr_factor(5) == pytest.approx(0.2)
    trainer.time_progress = 0.0
    assert trainer.lr_factor(5) == pytest.approx(1.0, abs=1e-3)


def test_the_optimizer_follows_the_schedule_step_by_step():
    trainer = Trainer(_cosine(steps=6, warmup_steps=2, final_lr_fraction=0.0, milestones=[]))
    used = [trainer.training_step(tiny_batch(seed=i))["lr"] for i in range(6)]
    assert used == pytest.approx([trainer.lr_factor(i) for i in range(6)])


@pytest.mark.parametrize(
    "override", ["optim.lr=nan", "optim.lr=-1e-3", "optim.lr=inf", "optim.betas=[2,3]", "schedule.lr_schedule=linear"]
)
def test_bad_optimiser_settings_are_refused_when_read(override):
    with pytest.raises(ConfigError):
        train_preset("tiny").with_overrides([override])


def test_the_cpu_preset_is_the_fast_recipe_and_paper_stays_official():
    cpu, paper = train_preset("cpu"), train_preset("paper")
    assert cpu.schedule.lr_schedule == "cosine" and cpu.init.output_bias == "data"
    assert cpu.objective.noise_residual_weight > 0 and cpu.model.projection_gain > 0
    assert paper.schedule.lr_schedule == "multistep" and paper.init.output_bias == "zero"
    assert paper.objective.noise_residual_weight == 0 and paper.model.projection_gain == 0
    assert paper.model.level_scale == 1.0 and paper.optim.lr == 1e-4


def test_output_bias_starts_at_the_mean_of_the_training_images(tmp_path):
    cfg = tiny_config(write_pairs(tmp_path / "data"), "init.output_bias=data", "schedule.steps=1")
    mean = mean_intensity(load_training_set(cfg, progress=False))
    assert mean.shape == (3,) and 0.3 < float(mean.mean()) < 0.7
    trainer = Trainer(cfg)
    trainer.initialise_output_bias(mean)
    torch.testing.assert_close(trainer.model.output[-1].bias, mean)


def test_a_run_can_start_from_a_model_file(tmp_path):
    data = write_pairs(tmp_path / "data")
    torch.manual_seed(5)
    source = SeNMVAE(train_preset("tiny").model)
    with torch.no_grad():
        for p in source.parameters():
            p.add_(0.01)
    path = save_model(source, tmp_path / "init.safetensors")
    cfg = tiny_config(data, f"init.weights={path}", "schedule.steps=1", "validation.every=0")
    trainer = start_run(cfg, tmp_path / "run")
    assert trainer.step == 1
    moved = [float((a - b).detach().abs().max()) for a, b in zip(trainer.model.parameters(), source.parameters())]
    assert max(moved) < 0.05  # one small step away from the file's weights, not a fresh init


def test_a_failed_start_can_be_retried_in_the_same_folder(tmp_path):
    from senmvae.errors import UserError

    cfg = tiny_config(tmp_path / "missing", "schedule.steps=1")
    with pytest.raises(UserError):
        start_run(cfg, tmp_path / "run")
    cfg = tiny_config(write_pairs(tmp_path / "data"), "schedule.steps=1", "validation.every=0")
    assert start_run(cfg, tmp_path / "run").step == 1


def test_a_cosine_schedule_resumes_where_it_stopped():
    cfg = _cosine(steps=10, warmup_steps=2, final_lr_fraction=0.0, milestones=[])
    first = Trainer(cfg)
    for i in range(4):
        first.training_step(tiny_batch(seed=i))
    second = Trainer(cfg)
    second.load_state_dict(first.state_dict())
    a = [first.training_step(tiny_batch(seed=9))["lr"], first.training_step(tiny_batch(seed=10))["lr"]]
    b = [second.training_step(tiny_batch(seed=9))["lr"], second.training_step(tiny_batch(seed=10))["lr"]]
    assert a == b == pytest.approx([first.lr_factor(4), first.lr_factor(5)])


def test_fine_tuning_a_model_without_pixel_head_adds_a_new_one(tmp_path):
    from senmvae.model.config import PixelNoiseConfig

    data = write_pairs(tmp_path / "data")
    torch.manual_seed(5)
    source = SeNMVAE(train_preset("tiny").model)
    path = save_model(source, tmp_path / "init.safetensors")
    cfg = tiny_config(
        data, f"init.weights={path}", "schedule.steps=1", "validation.every=0", "model.pixel_noise.channels=4"
    )
    assert cfg.model.pixel_noise == PixelNoiseConfig(channels=4)
    trainer = start_run(cfg, tmp_path / "run")
    assert trainer.model.pixel_noise is not None
    kept = {k: v for k, v in trainer.model.state_dict().items() if not k.startswith("pixel_noise.")}
    assert kept.keys() == source.state_dict().keys()
    reloaded = load_model(tmp_path / "run" / "model.safetensors")
    assert reloaded.config.pixel_noise == PixelNoiseConfig(channels=4)


def test_pixel_noise_rate_zero_keeps_only_a_pretrained_head(tmp_path):
    from senmvae.model.config import PixelNoiseConfig
    from senmvae.train.run import initial_model

    tiny = train_preset("tiny").model
    without_head = save_model(SeNMVAE(tiny), tmp_path / "plain.safetensors")
    with_head = save_model(SeNMVAE(tiny.replace(pixel_noise=PixelNoiseConfig(4, 2))), tmp_path / "head.safetensors")
    settings = ["model.pixel_noise={channels: 4, layers: 2}", "optim.pixel_noise_lr=0"]

    def rate(*init):
        return initial_model(resolve_config("tiny", overrides=[*settings, *init]))[0].optim.pixel_noise_lr

    assert rate(f"init.weights={with_head}") == 0
    assert rate(f"init.weights={without_head}") is None
    assert rate() is None


def test_a_white_head_given_a_colouring_kernel_keeps_its_weights_and_learns_a_new_kernel(tmp_path):
    from senmvae.model.config import PixelNoiseConfig
    from senmvae.train.run import initial_model

    tiny = train_preset("tiny").model
    white = SeNMVAE(tiny.replace(pixel_noise=PixelNoiseConfig(4, 2)))
    white_path = save_model(white, tmp_path / "white.safetensors")
    coloured_path = save_model(
        SeNMVAE(tiny.replace(pixel_noise=PixelNoiseConfig(4, 2, kernel=3))), tmp_path / "coloured.safetensors"
    )
    settings = ["model.pixel_noise={channels: 4, layers: 2, kernel: 5}", "optim.pixel_noise_lr=0"]

    def run_config(path):
        return initial_model(resolve_config("tiny", overrides=[*settings, f"init.weights={path}"]))[0]

    upgraded = run_config(white_path)
    assert upgraded.model.pixel_noise == PixelNoiseConfig(4, 2, kernel=5)
    assert upgraded.optim.pixel_noise_lr is None  # the new kernel must learn
    kept = run_config(coloured_path)  # a coloured head keeps its colouring, widened (next test)
    assert kept.model.pixel_noise == PixelNoiseConfig(4, 2, kernel=5) and kept.optim.pixel_noise_lr == 0
    colour_zero = [*settings, "optim.pixel_noise_colour_lr=0"]
    fresh = initial_model(resolve_config("tiny", overrides=[*colour_zero, f"init.weights={white_path}"]))[0]
    assert fresh.optim.pixel_noise_colour_lr is None  # a new kernel learns whatever its rate says
    own = initial_model(resolve_config("tiny", overrides=[*colour_zero, f"init.weights={coloured_path}"]))[0]
    assert own.optim.pixel_noise_colour_lr == 0


def test_a_coloured_head_given_a_larger_kernel_starts_with_the_same_field(tmp_path):
    from senmvae.model.config import PixelNoiseConfig
    from senmvae.train.run import initial_model

    tiny = train_preset("tiny").model
    torch.manual_seed(3)
    source = SeNMVAE(tiny.replace(pixel_noise=PixelNoiseConfig(4, 2, kernel=3)))
    with torch.no_grad():
        source.pixel_noise.colour.normal_()
    path = save_model(source, tmp_path / "k3.safetensors")
    cfg, init = initial_model(
        resolve_config(
            "tiny",
            overrides=[
                "model.pixel_noise={channels: 4, layers: 2, kernel: 7}",
                f"init.weights={path}",
                "optim.pixel_noise_colour_lr=0",
            ],
        )
    )
    assert cfg.model.pixel_noise == PixelNoiseConfig(4, 2, kernel=7)
    assert cfg.optim.pixel_noise_colour_lr == 0  # the colouring is pretrained, not new
    trainer = Trainer(cfg)
    trainer.initialise_weights(init)
    wide, narrow = trainer.model.pixel_noise, source.pixel_noise
    assert wide.colour.shape[-1] == 7
    torch.testing.assert_close(wide.colour[..., 2:5, 2:5], narrow.colour)
    assert wide.colour.abs()[..., :2, :].sum() == 0 and wide.colour.abs()[..., :, 5:].sum() == 0
    # the same field: the same likelihood of any residual on any crop at least as large as the kernel
    clean, residual = torch.rand(2, 3, 12, 12), 0.05 * torch.randn(2, 3, 12, 12)
    level = torch.full((2,), 0.05)
    torch.testing.assert_close(wide(clean, level).nll(residual), narrow(clean, level).nll(residual))
