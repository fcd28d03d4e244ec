import torch

from senmvae.domain import Domain
from senmvae.model import SeNMVAE, model_preset
from senmvae.model.config import PixelNoiseConfig
from senmvae.model.objective import ObjectiveConfig, SeNMObjective
from senmvae.model.pixel_noise import PixelNoiseHead, pixel_noise_loss


def _tiny(head: bool = True, perturb: float = 0.0, seed: int = 0) -> SeNMVAE:
    torch.manual_seed(seed)
    cfg = model_preset("tiny").replace(pixel_noise=PixelNoiseConfig(channels=8, layers=2) if head else None)
    net = SeNMVAE(cfg)
    if perturb:
        with torch.no_grad():
            for p in net.parameters():
                p.add_(perturb * torch.randn_like(p))
    return net


def test_a_new_head_predicts_the_level_everywhere():
    head = PixelNoiseHead(_tiny().config)
    dist = head(torch.rand(2, 3, 12, 10), torch.tensor([0.01, 0.04]))
    assert dist.sigma.shape == (2, 3, 12, 10)
    torch.testing.assert_close(dist.sigma[0], torch.full((3, 12, 10), 0.01))
    torch.testing.assert_close(dist.sigma[1], torch.full((3, 12, 10), 0.04))


def test_content_exact_noise_adds_the_head_draw_to_what_zn_adds():
    with_head, without = _tiny(True, 0.05), _tiny(False, 0.05)
    without.load_state_dict({k: v for k, v in with_head.state_dict().items() if not k.startswith("pixel_noise.")})
    with torch.no_grad():
        with_head.pixel_noise.net[-1].weight.zero_()  # sigma = level, as a new head has
        with_head.pixel_noise.net[-1].bias.zero_()
    clean = torch.rand(4, 3, 64, 64)
    with torch.no_grad():
        noise = with_head.sample(clean, 0.03, generator=torch.Generator().manual_seed(0), content_exact=True)
        zn_part = without.sample(clean, 0.03, generator=torch.Generator().manual_seed(0), content_exact=True)
    assert float(zn_part.std()) > 0.01  # zn adds something too
    assert abs(float((noise - zn_part).std()) / 0.03 - 1) < 0.03


def test_the_head_changes_no_draw_at_temperature_zero():
    with_head, without = _tiny(True, 0.05), _tiny(False, 0.05)
    without.load_state_dict({k: v for k, v in with_head.state_dict().items() if not k.startswith("pixel_noise.")})
    clean = torch.rand(2, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(
            with_head.sample(clean, 0.05, temperature=0), without.sample(clean, 0.05, temperature=0)
        )


def _grads(net, weight):
    g = torch.Generator().manual_seed(1)
    clean = torch.rand(4, 3, 16, 16, generator=g)
    batch = {
        "clean": clean,
        "noisy": clean + 0.05 * torch.randn(clean.shape, generator=g),
        "domain": torch.tensor([Domain.PAIRED, Domain.PAIRED, Domain.SOURCE, Domain.TARGET]),
    }
    net.zero_grad(set_to_none=True)
    objective = SeNMObjective(ObjectiveConfig(pixel_noise_weight=weight))
    out = objective(net, batch, step=100, generator=torch.Generator().manual_seed(2))
    out.loss.backward()
    return out, {n: p.grad for n, p in net.named_parameters()}


def test_only_the_head_learns_from_the_pixel_terms_and_it_learns_from_nothing_else():
    net = _tiny(perturb=0.05)
    without, grads_without = _grads(net, 0.0)
    with_terms, grads_with = _grads(net, 1.0)
    assert "pixel_nll" not in without.terms and "pixel_nll" in with_terms.terms
    head = [n for n in grads_with if n.startswith("pixel_noise.")]
    assert head and all(grads_without[n] is None for n in head)
    assert all(float(grads_with[n].abs().max()) > 0 for n in head if n.endswith("weight"))
    for name, grad in grads_with.items():
        if not name.startswith("pixel_noise.") and grad is not None:
            torch.testing.assert_close(grad, grads_without[name])


def test_the_head_learns_where_the_noise_is():
    """Noise whose std grows with the intensity: the fitted head must put more of it on bright pixels."""
    torch.manual_seed(0)
    head = PixelNoiseHead(_tiny().config)
    optim = torch.optim.Adam(head.parameters(), 1e-2)
    level = torch.full((8,), 0.03)
    for _ in range(300):
        clean = torch.rand(8, 3, 24, 24)
        residual = 0.03 * (0.25 + 1.5 * clean) * torch.randn_like(clean)
        loss = pixel_noise_loss(head(clean, level), residual).mean()
        optim.zero_grad()
        loss.backward()
        optim.step()
    with torch.no_grad():
        dark = head(torch.full((1, 3, 8, 8), 0.1), level[:1]).sigma.mean()
        bright = head(torch.full((1, 3, 8, 8), 0.9), level[:1]).sigma.mean()
    assert float(bright / dark) > 2.5  # the truth: (0.25 + 1.35) / (0.25 + 0.15) = 4
