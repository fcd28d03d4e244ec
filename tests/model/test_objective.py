import math

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


KL_OF_N1_4_FROM_N0_1 = 2.0 - math.log(2.0)  # KL(N(1, 2^2) || N(0, 1)) = log(1/2) + (4 + 1)/2 - 1/2
KL_OF_N0_1_FROM_N1_4 = math.log(2.0) - 0.25  # the other direction: log 2 + (1 + 1)/8 - 1/2


def _set_head(head, mean: float, log_sigma: float) -> None:
    """A Gaussian head whose output is N(mean, exp(log_sigma)^2) everywhere, whatever its input."""
    with torch.no_grad():
        for branch, value in ((head.mean, mean), (head.log_sigma, log_sigma)):
            branch[1].weight.zero_()
            branch[1].bias.fill_(value)


def test_kl_terms_are_posterior_from_prior_in_closed_form():
    """q(z|y) = q(zn|y,z) = N(1, 2^2) and q(z|x) = p(zn|z) = N(0, 1) at every latent element: kl_z is
    KL(q(z|y) || q(z|x)) and kl_zn KL(q(zn|y,z) || p(zn|z)), each a mean over elements summed over levels
    (kl_z over both streams of a paired row), never the reverse KL."""
    torch.manual_seed(0)
    model = SeNMVAE(model_preset("tiny"))
    for level in model.levels:
        _set_head(level.q_z_noisy, 1.0, math.log(2.0))
        _set_head(level.q_z_clean, 0.0, 0.0)
        _set_head(level.q_zn, 1.0, math.log(2.0))
        _set_head(level.p_zn, 0.0, 0.0)
    levels = model.config.num_levels
    batch = _batch([Domain.PAIRED, Domain.PAIRED, Domain.TARGET])
    terms = SeNMObjective()(model, batch, step=100, generator=torch.Generator().manual_seed(0)).terms
    assert float(terms["kl_zn"]) == pytest.approx(levels * KL_OF_N1_4_FROM_N0_1, rel=1e-5)
    assert float(terms["kl_z"]) == pytest.approx(2 * levels * KL_OF_N1_4_FROM_N0_1, rel=1e-5)
    assert KL_OF_N0_1_FROM_N1_4 < 0.5 * KL_OF_N1_4_FROM_N0_1  # the reverse direction would be far off


def _content_probe(model) -> None:
    """q(z|x) and q(z|y) collapsed onto their means (sigma e^-30), so each row's content path shows which
    posterior its z came from."""
    with torch.no_grad():
        for level in model.levels:
            for head in (level.q_z_clean, level.q_z_noisy):
                head.log_sigma[1].weight.zero_()
                head.log_sigma[1].bias.fill_(-30.0)


@pytest.mark.parametrize(("p_clean", "low", "high"), [(1.0, 32, 32), (0.0, 0, 0), (0.25, 3, 13)])
def test_paired_rows_take_q_z_given_x_with_probability_p_clean(model, p_clean, low, high):
    """The clean stream decodes z without zn: a paired row that drew q(z|x) decodes like reconstruct(x)
    (z at the mean of q(z|x)), one that drew q(z|y) like denoise(y) (z at the mean of q(z|y))."""
    _content_probe(model)
    batch = _batch([Domain.PAIRED] * 32, size=16, seed=5)
    objective = SeNMObjective(ObjectiveConfig(p_clean=p_clean))
    with torch.no_grad():
        decoded = objective(model, batch, step=100, generator=torch.Generator().manual_seed(2)).forward.recon_clean
        from_clean = model.reconstruct(batch["clean"])
        from_noisy = model.denoise(batch["noisy"])
    apart = (from_clean - from_noisy).abs().flatten(1).amax(1)
    assert bool((apart > 1e-2).all())  # the two posteriors decode distinguishably on every row
    took_clean = (decoded - from_clean).abs().flatten(1).amax(1) < 1e-4
    took_noisy = (decoded - from_noisy).abs().flatten(1).amax(1) < 1e-4
    assert bool((took_clean ^ took_noisy).all())
    assert low <= int(took_clean.sum()) <= high


def test_clean_reconstruction_weight_scales_only_its_term(model):
    """The switch of the paper's Table 6: at weight 0 the loss is the full loss less the clean
    reconstruction term, the same draws otherwise."""
    batch = _batch([Domain.PAIRED, Domain.SOURCE, Domain.TARGET, Domain.PAIRED])

    def loss(weight: float):
        objective = SeNMObjective(ObjectiveConfig(rec_clean_weight=weight))
        return objective(model, batch, step=100, generator=torch.Generator().manual_seed(3))

    full, off, half = loss(1.0), loss(0.0), loss(0.5)
    assert full.terms["rec_clean"] > 0
    assert torch.allclose(full.loss - off.loss, full.terms["rec_clean"], rtol=1e-4, atol=1e-6)
    assert torch.allclose(full.loss - half.loss, 0.5 * full.terms["rec_clean"], rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="rec_clean_weight"):
        ObjectiveConfig(rec_clean_weight=-1.0)


def test_paired_rows_take_the_level_of_their_whole_image_when_the_batch_has_one(model):
    batch = _batch([Domain.PAIRED, Domain.TARGET, Domain.SOURCE])
    image_level = torch.tensor([0.037, 0.0, 0.0], dtype=torch.float64)  # as the DataLoader collates floats
    level, l1 = SeNMObjective().conditioning_level(model, batch["clean"], batch["noisy"], batch["domain"], image_level)
    predicted = model.level_predictor(batch["noisy"])
    assert float(level[0]) == pytest.approx(0.037) and level.dtype == batch["clean"].dtype
    torch.testing.assert_close(level[1], predicted[1])
    torch.testing.assert_close(l1, (predicted[0] - 0.037).abs())
    stats = SeNMObjective()(model, batch | {"level": image_level}, step=0).terms
    assert torch.isfinite(stats["level_l1"]) and float(stats["level_l1"]) == pytest.approx(float(l1), rel=1e-5)
