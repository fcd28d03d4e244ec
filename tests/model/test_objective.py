import pytest
import torch

from senmvae.domain import Domain
from senmvae.model import SeNMVAE, model_preset
from senmvae.model.objective import ObjectiveConfig, SeNMObjective
from senmvae.noise_level import noise_level

NOISY_ONLY_PARTS = ("noisy_encoder.", "degradation_encoder.", ".q_zn.", ".p_zn.", ".q_z_noisy.", "level_predictor.")
CLEAN_ONLY_PARTS = ("clean_encoder.", ".q_z_clean.")


def _batch(domains, size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    clean = torch.rand(len(domains), 3, size, size, generator=g)
    noisy = clean + 0.1 * torch.randn(clean.shape, generator=g)
    return {"clean": clean, "noisy": noisy, "domain": torch.tensor([int(d) for d in domains])}


def _grads(model, batch):
    model.zero_grad(set_to_none=True)
    SeNMObjective()(model, batch, step=100).loss.backward()
    return {n: p.grad for n, p in model.named_parameters()}


@pytest.fixture()
def model():
    """A tiny model with its zero-initialised projections perturbed, so every branch carries signal."""
    torch.manual_seed(0)
    model = SeNMVAE(model_preset("tiny"))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model


def test_clean_only_batch_gives_zero_gradient_to_noisy_branches(model):
    grads = _grads(model, _batch([Domain.SOURCE] * 4))
    noisy_parts = [n for n in grads if any(p in n for p in NOISY_ONLY_PARTS)]
    assert noisy_parts
    assert all(grads[n] is None or torch.count_nonzero(grads[n]) == 0 for n in noisy_parts)
    assert any(grads[n] is not None and grads[n].abs().sum() > 0 for n in grads if "clean_encoder." in n)


def test_noisy_only_batch_gives_zero_gradient_to_clean_posterior(model):
    grads = _grads(model, _batch([Domain.TARGET] * 4))
    clean_parts = [n for n in grads if any(p in n for p in CLEAN_ONLY_PARTS)]
    assert clean_parts
    assert all(grads[n] is None or torch.count_nonzero(grads[n]) == 0 for n in clean_parts)
    assert any(grads[n] is not None and grads[n].abs().sum() > 0 for n in grads if "degradation_encoder." in n)


def test_paired_samples_train_every_branch(model):
    grads = _grads(model, _batch([Domain.PAIRED] * 4))
    for part in NOISY_ONLY_PARTS + CLEAN_ONLY_PARTS:
        assert any(g is not None and g.abs().sum() > 0 for n, g in grads.items() if part in n), part


def test_objective_returns_every_term_and_level():
    torch.manual_seed(0)
    model = SeNMVAE(model_preset("tiny"))
    out = SeNMObjective()(model, _batch([Domain.PAIRED, Domain.SOURCE, Domain.TARGET, Domain.PAIRED]), step=5000)
    stats = out.statistics()
    for key in ("rec_clean", "rec_noisy", "kl_zn", "kl_z", "level_l1", "loss_paired", "loss_source", "loss_target"):
        assert key in stats
    assert len(out.kl_z_per_level) == len(out.kl_zn_per_level) == model.config.num_levels
    assert stats["kl_weight"] == pytest.approx(1e-2 * 0.5)
    expected = (
        stats["rec_clean"]
        + stats["rec_noisy"]
        + stats["kl_weight"] * (stats["kl_zn"] + 1e-7 * stats["kl_z"])
        + stats["level_l1"]
    )
    assert stats["loss"] == pytest.approx(expected, rel=1e-5)


def test_kl_annealing_is_linear_then_flat():
    cfg = ObjectiveConfig(kl_anneal_steps=10)
    assert [cfg.kl_scale(s) for s in (0, 5, 10, 20)] == [0.0, 0.5, 1.0, 1.0]


def test_zn_heads_see_true_level_on_pairs_and_predicted_on_targets(model):
    batch = _batch([Domain.PAIRED, Domain.TARGET, Domain.SOURCE])
    level, l1 = SeNMObjective().conditioning_level(model, batch["clean"], batch["noisy"], batch["domain"])
    true = noise_level(batch["noisy"], batch["clean"])
    predicted = model.level_predictor(batch["noisy"])
    torch.testing.assert_close(level[0], true[0])
    torch.testing.assert_close(level[1], predicted[1])
    assert level[2] == 0
    torch.testing.assert_close(l1, (predicted[0] - true[0]).abs())


def test_tiny_model_overfits_two_pairs():
    torch.manual_seed(0)
    model = SeNMVAE(model_preset("tiny"))
    objective = SeNMObjective(ObjectiveConfig(kl_anneal_steps=100))
    batch = _batch([Domain.PAIRED, Domain.PAIRED], size=16, seed=3)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    first = rec = None
    for step in range(300):
        out = objective(model, batch, step)
        rec = float((out.terms["rec_clean"] + out.terms["rec_noisy"]).detach())
        first = rec if first is None else first
        if rec < 0.5 * first:
            break
        opt.zero_grad()
        out.loss.backward()
        opt.step()
    assert rec < 0.5 * first, (first, rec)


def test_adversarial_terms_start_at_their_step():
    from senmvae.model.discriminator import DiscriminatorConfig, PatchDiscriminator

    torch.manual_seed(0)
    model = SeNMVAE(model_preset("tiny"))
    discriminator = PatchDiscriminator(3, DiscriminatorConfig(base_channels=8, layers=2)).eval()
    objective = SeNMObjective(ObjectiveConfig(adversarial_start_step=50), discriminator=discriminator)
    batch = _batch([Domain.PAIRED, Domain.TARGET], size=32)
    before = objective(model, batch, step=49, generator=torch.Generator().manual_seed(1))
    after = objective(model, batch, step=50, generator=torch.Generator().manual_seed(1))
    assert "gan_generator" not in before.terms
    assert "gan_generator" in after.terms
    assert float(after.loss - before.loss) == pytest.approx(0.1 * float(after.terms["gan_generator"]), rel=1e-4)
