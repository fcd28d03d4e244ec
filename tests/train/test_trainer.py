import io
import math

import pytest
import torch
from torch import nn

from senmvae.train.config import resolve_config
from senmvae.train.run import build_perceptual
from senmvae.train.trainer import Trainer, mean_statistics
from tests.train.helpers import tiny_batch


def tiny(*overrides: str) -> Trainer:
    return Trainer(resolve_config("tiny", overrides=list(overrides)))


def weights(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_step_reports_every_term_and_updates_both_networks():
    trainer = tiny()
    model_before, d_before = weights(trainer.model), weights(trainer.discriminator)
    stats = trainer.training_step(tiny_batch())
    for key in (
        "loss",
        "rec_clean",
        "rec_noisy",
        "kl_zn",
        "kl_z",
        "level_l1",
        "gan_generator",
        "loss_paired",
        "loss_source",
        "loss_target",
        "kl_weight",
        "discriminator_loss",
        "grad_norm",
        "grad_norm_discriminator",
        "skipped_grad_norm",
        "skipped_nonfinite",
        "skipped_discriminator",
        "lr",
        "lr_discriminator",
    ):
        assert key in stats, key
    levels = trainer.cfg.model.num_levels
    assert all(f"kl_z/level{i}" in stats and f"kl_zn/level{i}" in stats for i in range(levels))
    assert all(isinstance(v, float) and math.isfinite(v) for v in stats.values())
    assert stats["skipped_grad_norm"] == stats["skipped_nonfinite"] == 0.0
    assert not same(model_before, weights(trainer.model))
    assert not same(d_before, weights(trainer.discriminator))
    assert trainer.step == 1
    assert all(p.requires_grad for p in trainer.discriminator.parameters())


def test_kl_annealing_and_step_schedule_follow_the_step():
    trainer = tiny("schedule.milestones=[1,2]", "objective.kl_anneal_steps=4")
    got = [trainer.training_step(tiny_batch(i)) for i in range(3)]
    assert [s["lr"] for s in got] == pytest.approx([1e-4, 5e-5, 2.5e-5])
    assert [s["lr_discriminator"] for s in got] == pytest.approx([1e-4, 5e-5, 2.5e-5])
    assert [s["kl_weight"] for s in got] == pytest.approx([0.0, 0.25e-2, 0.5e-2])


def test_update_is_skipped_and_counted_when_the_gradient_norm_reaches_the_threshold():
    trainer = tiny("optim.skip_grad_norm=1e-9")
    before, d_before = weights(trainer.model), weights(trainer.discriminator)
    stats = trainer.training_step(tiny_batch())
    assert stats["skipped_grad_norm"] == 1.0 and stats["grad_norm"] >= 1e-9
    assert same(before, weights(trainer.model))
    assert not same(d_before, weights(trainer.discriminator))  # the discriminator still learns
    assert trainer.skipped == {"grad_norm": 1, "nonfinite": 0, "discriminator": 0}
    assert trainer.scheduler.last_epoch == 1  # the schedule advances with the step count


def test_non_finite_loss_skips_both_updates_and_counts_them():
    trainer = tiny()
    batch = tiny_batch()
    batch["noisy"][0, 0, 0, 0] = float("nan")
    before, d_before = weights(trainer.model), weights(trainer.discriminator)
    stats = trainer.training_step(batch)
    assert stats["skipped_nonfinite"] == 1.0 and stats["skipped_grad_norm"] == 0.0
    assert stats["skipped_discriminator"] == 1.0
    assert same(before, weights(trainer.model)) and same(d_before, weights(trainer.discriminator))
    assert trainer.skipped == {"grad_norm": 0, "nonfinite": 1, "discriminator": 1}
    assert all(p.grad is None for p in trainer.model.parameters())
    trainer.training_step(tiny_batch())  # the next clean batch trains normally
    assert not same(before, weights(trainer.model))


def test_gradient_clipped_over_the_vae_parameters_only():
    trainer = tiny("optim.grad_clip=1e-3", "optim.skip_grad_norm=null")
    stats = trainer.training_step(tiny_batch())
    vae = [p.grad for n, p in trainer.model.named_parameters() if not n.startswith("level_predictor.")]
    predictor = [p.grad for p in trainer.model.level_predictor.parameters()]
    assert stats["grad_norm"] > 1e-3  # the norm before clipping is reported
    assert torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in vae])) == pytest.approx(
        1e-3, rel=1e-4
    )
    assert torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in predictor])) > 1e-3


def test_ema_starts_at_the_weights_then_averages_with_the_decay():
    trainer = tiny("optim.ema_decay=0.75")
    name = "levels.0.proj_z.bias"
    trainer.training_step(tiny_batch(0))
    first = trainer.model.state_dict()[name].clone()
    assert torch.equal(trainer.export_model.state_dict()[name], first)
    trainer.training_step(tiny_batch(1))
    second = trainer.model.state_dict()[name]
    torch.testing.assert_close(trainer.export_model.state_dict()[name], 0.75 * first + 0.25 * second)


def test_state_round_trip_through_weights_only_file_continues_identically():
    a = tiny("optim.ema_decay=0.9")
    for i in range(2):
        a.training_step(tiny_batch(i))
    buffer = io.BytesIO()
    torch.save(a.state_dict(), buffer)
    buffer.seek(0)
    b = tiny("optim.ema_decay=0.9")
    b.training_step(tiny_batch(7))  # other weights and optimizer state: all must come from the file
    b.load_state_dict(torch.load(buffer, weights_only=True))
    assert b.step == 2
    sa, sb = a.training_step(tiny_batch(2)), b.training_step(tiny_batch(2))
    assert sa == sb
    for part in ("model", "discriminator", "ema"):
        assert same(weights(getattr(a, part)), weights(getattr(b, part)))


def test_state_from_a_run_without_ema_is_refused_by_one_with_ema():
    with pytest.raises(ValueError, match="ema"):
        tiny("optim.ema_decay=0.9").load_state_dict(tiny().state_dict())


def test_micro_batches_accumulate_the_mean_gradient_of_their_chunks():
    """Chunk k of a micro-batched step is seeded as shard k: it computes what shard k would alone."""
    batch = tiny_batch(domains=(0, 2, 1, 0))
    split = tiny("optim.micro_batches=2")
    stats = split.training_step(batch)
    chunks = [{k: v[:2] for k, v in batch.items()}, {k: v[2:] for k, v in batch.items()}]
    alone = [Trainer(resolve_config("tiny"), rank=k) for k in range(2)]
    alone_stats = [t.training_step(c) for t, c in zip(alone, chunks)]
    assert stats["loss"] == pytest.approx((alone_stats[0]["loss"] + alone_stats[1]["loss"]) / 2, rel=1e-6)
    for name, p in split.model.named_parameters():
        grads = [dict(t.model.named_parameters())[name].grad for t in alone]
        expected = sum(g if g is not None else torch.zeros_like(p) for g in grads) / 2
        torch.testing.assert_close(p.grad if p.grad is not None else torch.zeros_like(p), expected, msg=name)


class MeanAbsolute(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, fake, real):
        return self.scale * (fake - real).abs().flatten(1).mean(1)


def test_perceptual_network_is_frozen_and_its_term_reported():
    perceptual = MeanAbsolute()
    trainer = Trainer(resolve_config("tiny"), perceptual=perceptual)
    stats = trainer.training_step(tiny_batch())
    assert 0 < stats["perceptual"] < 1
    assert not perceptual.scale.requires_grad and perceptual.scale.grad is None
    assert all(p is not perceptual.scale for g in trainer.optimizer.param_groups for p in g["params"])
    assert "perceptual" not in " ".join(trainer.state_dict()["model"])


def test_mean_statistics_averages_each_key_over_the_parts_that_have_it():
    assert mean_statistics([{"a": 1.0, "b": 4.0}, {"a": 3.0}]) == {"a": 2.0, "b": 4.0}


def test_default_perceptual_loss_is_a_frozen_pretrained_network():
    assert build_perceptual(resolve_config("tiny")) is None  # tiny: kind none
    cfg = resolve_config("tiny", overrides=["perceptual.kind=effnet"])
    perceptual = build_perceptual(cfg)
    frozen = weights(perceptual)
    trainer = Trainer(cfg, perceptual=perceptual)
    stats = trainer.training_step(tiny_batch())
    assert stats["perceptual"] > 0
    assert same(frozen, weights(perceptual)) and not perceptual.training
    assert not any(p.requires_grad for p in perceptual.parameters())


def test_pixel_noise_head_gets_its_own_scheduled_rate():
    head = "model.pixel_noise={channels: 4, layers: 2}"
    assert len(tiny(head).optimizer.param_groups) == 1
    trainer = tiny(head, "optim.pixel_noise_lr=1e-2", "schedule.milestones=[1]")
    vae, pixel = trainer.optimizer.param_groups
    names = {id(p): n for n, p in trainer.model.named_parameters()}
    assert all(names[id(p)].startswith("pixel_noise.") for p in pixel["params"])
    assert not any(names[id(p)].startswith("pixel_noise.") for p in vae["params"])
    assert len(vae["params"]) + len(pixel["params"]) == len(names)
    for expected in (1e-2, 5e-3):
        assert pixel["lr"] == pytest.approx(expected) and vae["lr"] == pytest.approx(expected / 100)
        trainer.training_step(tiny_batch())


@pytest.mark.parametrize("rate", ["null", "0"])
def test_pixel_noise_head_at_rate_zero_stays_as_it_was(rate):
    trainer = tiny("model.pixel_noise={channels: 4, layers: 2}", f"optim.pixel_noise_lr={rate}")
    before = weights(trainer.model)
    for i in range(2):
        trainer.training_step(tiny_batch(i))
    after = weights(trainer.model)
    moved = {k for k in before if not torch.equal(before[k], after[k])}
    head_moved = any(k.startswith("pixel_noise.") for k in moved)
    assert len(moved) > 1 and head_moved == (rate == "null")


def test_the_colouring_can_learn_while_the_per_pixel_std_stays():
    """optim.pixel_noise_colour_lr: the colour kernel and white floor in a group of their own, so a
    short fine-tune can adapt them with the std network kept (the demo's setting)."""
    head = "model.pixel_noise={channels: 4, layers: 2, kernel: 3}"
    assert len(tiny(head, "optim.pixel_noise_lr=0").optimizer.param_groups) == 2  # as before
    trainer = tiny(head, "optim.pixel_noise_lr=0", "optim.pixel_noise_colour_lr=1e-2")
    vae, std, colouring = trainer.optimizer.param_groups
    names = {id(p): n for n, p in trainer.model.named_parameters()}
    assert sorted(names[id(p)] for p in colouring["params"]) == ["pixel_noise.colour", "pixel_noise.white_log_std"]
    assert std["lr"] == 0 and colouring["lr"] == pytest.approx(1e-2)
    before = weights(trainer.model)
    for i in range(2):
        trainer.training_step(tiny_batch(i))
    after = weights(trainer.model)
    moved = {k for k in before if not torch.equal(before[k], after[k])}
    assert {"pixel_noise.colour", "pixel_noise.white_log_std"} <= moved
    assert not any(k.startswith("pixel_noise.net.") for k in moved)
