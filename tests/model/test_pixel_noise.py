import math

import torch
from torch.nn import functional as F

from senmvae.domain import Domain
from senmvae.model import SeNMVAE, model_preset
from senmvae.model.config import PixelNoiseConfig
from senmvae.model.objective import ObjectiveConfig, SeNMObjective
from senmvae.model.pixel_noise import PixelNoise, PixelNoiseHead


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
        loss = head(clean, level).nll(residual).mean()
        optim.zero_grad()
        loss.backward()
        optim.step()
    with torch.no_grad():
        dark = head(torch.full((1, 3, 8, 8), 0.1), level[:1]).sigma.mean()
        bright = head(torch.full((1, 3, 8, 8), 0.9), level[:1]).sigma.mean()
    assert float(bright / dark) > 2.5  # the truth: (0.25 + 1.35) / (0.25 + 0.15) = 4


def _coloured_head(kernel: int = 3, seed: int = 0, perturb: float = 0.3) -> PixelNoiseHead:
    torch.manual_seed(seed)
    head = PixelNoiseHead(
        model_preset("tiny").replace(pixel_noise=PixelNoiseConfig(channels=8, layers=2, kernel=kernel))
    )
    with torch.no_grad():
        head.colour.add_(perturb * torch.randn_like(head.colour))
        head.white_log_std.fill_(math.log(0.3))
    return head


def _dense_covariance(kernel: torch.Tensor, white: torch.Tensor, side: int) -> torch.Tensor:
    """The covariance of u = kernel * eps + white * eps2 on a side x side torus, built column by
    column from the responses to unit impulses (no Fourier transform)."""
    c, k = kernel.shape[0], kernel.shape[-1]
    basis = torch.eye(c * side * side, dtype=torch.float64).view(-1, c, side, side)
    response = F.conv2d(F.pad(basis, (k // 2,) * 4, mode="circular"), kernel.double())
    a = response.reshape(c * side * side, -1).T
    return a @ a.T + torch.diag(white.double().repeat_interleave(side * side) ** 2)


def test_a_new_coloured_field_is_white_with_unit_variance():
    head = PixelNoiseHead(model_preset("tiny").replace(pixel_noise=PixelNoiseConfig(channels=8, layers=2, kernel=5)))
    kernel, white = head.field_parameters()
    covariance = _dense_covariance(kernel.detach(), white.detach(), 6)
    torch.testing.assert_close(covariance, torch.eye(3 * 36, dtype=torch.float64))


def test_the_coloured_likelihood_is_the_exact_gaussian_density_on_a_torus():
    head = _coloured_head(kernel=3)
    kernel, white = (t.detach() for t in head.field_parameters())
    side = 5
    covariance = _dense_covariance(kernel, white, side)
    assert torch.allclose(covariance.diagonal(), torch.ones(3 * side * side, dtype=torch.float64))  # unit variance
    log_sigma = 0.2 * torch.randn(2, 3, side, side, dtype=torch.float64)
    residual = torch.randn(2, 3, side, side, dtype=torch.float64)
    # n = sigma * u: density of u = n / sigma times the Jacobian 1 / prod(sigma)
    u = (residual * (-log_sigma).exp()).flatten(1)
    dense = torch.distributions.MultivariateNormal(torch.zeros(u.shape[1], dtype=torch.float64), covariance)
    expected = (-dense.log_prob(u) + log_sigma.flatten(1).sum(1)) / u.shape[1] - 0.5 * math.log(2 * math.pi)
    got = PixelNoise(log_sigma, kernel, white).nll(residual)
    torch.testing.assert_close(got, expected)


def test_samples_have_the_fields_correlations_without_wrap_around():
    head = _coloured_head(kernel=3, seed=3)
    kernel, white = (t.detach() for t in head.field_parameters())
    covariance = _dense_covariance(kernel, white, 8).view(3, 8, 8, 3, 8, 8)
    lag1_h, channels_rg = covariance[:, 4, 4, :, 4, 5].diagonal(), covariance[0, 4, 4, 1, 4, 4]
    pixel = PixelNoise(torch.zeros(64, 3, 40, 40), kernel, white)
    u = pixel.field(torch.Generator().manual_seed(0)).double()
    torch.testing.assert_close(u.var((0, 2, 3)), torch.ones(3, dtype=torch.float64), atol=0.02, rtol=0)
    empirical_h = (u[..., :, 1:] * u[..., :, :-1]).mean((0, 2, 3))
    torch.testing.assert_close(empirical_h, lag1_h, atol=0.02, rtol=0)
    torch.testing.assert_close((u[:, 0] * u[:, 1]).mean(), channels_rg, atol=0.02, rtol=0)


def test_the_head_learns_the_correlation_of_the_noise():
    """Noise blurred over two horizontal neighbours and mixed between channels: fitted by its
    likelihood, the head's field takes the true lag-1 and cross-channel correlations."""
    torch.manual_seed(0)
    head = PixelNoiseHead(model_preset("tiny").replace(pixel_noise=PixelNoiseConfig(channels=8, layers=2, kernel=3)))
    optim = torch.optim.Adam(head.parameters(), 2e-2)
    mix = torch.tensor([[1.0, 0.0, 0.0], [0.6, 0.8, 0.0], [0.0, 0.0, 1.0]])
    level = torch.full((8,), 0.02)
    for _ in range(200):
        white = torch.randn(8, 3, 24, 25)
        field = (white[..., 1:] + white[..., :-1]) / math.sqrt(2)  # lag-1 correlation 0.5 along rows
        residual = 0.02 * torch.einsum("ij,bjhw->bihw", mix, field)
        loss = head(torch.rand(8, 3, 24, 24), level).nll(residual).mean()
        optim.zero_grad()
        loss.backward()
        optim.step()
    kernel, white = (t.detach() for t in head.field_parameters())
    covariance = _dense_covariance(kernel, white, 8).view(3, 8, 8, 3, 8, 8)
    torch.testing.assert_close(
        covariance[:, 4, 4, :, 4, 5].diagonal(), torch.full((3,), 0.5, dtype=torch.float64), atol=0.06, rtol=0
    )
    assert abs(float(covariance[:, 4, 4, :, 5, 4].diagonal().mean())) < 0.06  # none along columns
    assert abs(float(covariance[0, 4, 4, 1, 4, 4]) - 0.6) < 0.06  # channels R and G
    assert abs(float(covariance[0, 4, 4, 2, 4, 4])) < 0.06


def test_the_parts_of_the_noise_add_up_to_the_whole():
    """Content-exact: the noise of both parts is what zn adds plus the head's draw, each drawn
    alone from the same generator state as in the whole."""
    net = _tiny(True, 0.05)
    clean = torch.rand(2, 3, 16, 16)

    def noise(parts):
        with torch.no_grad():
            return net.sample(clean, 0.03, generator=torch.Generator().manual_seed(0), content_exact=True, parts=parts)

    zn_alone, pixel_alone = noise(("zn",)), noise(("pixel",))
    with torch.no_grad():
        head = net.pixel_noise(clean, torch.full((2,), 0.03))
    assert float(zn_alone.abs().max()) > 0
    torch.testing.assert_close(pixel_alone, head.sample(torch.Generator().manual_seed(0)))
    # the whole draws zn first, then the head, from the one generator
    whole = noise(("zn", "pixel"))
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        zn_part = net.sample(clean, 0.03, generator=gen, content_exact=True, parts=("zn",))
        torch.testing.assert_close(whole, zn_part + head.sample(gen))


def test_spectrum_gap_compares_the_shape_of_two_spectra():
    from senmvae.model.objective import spectrum_gap

    g = torch.Generator().manual_seed(0)
    white = torch.randn(8, 3, 32, 32, generator=g)
    assert float(spectrum_gap(3.0 * white, white)) < 1e-10  # the scale does not count
    other = torch.randn(8, 3, 32, 32, generator=g)
    assert float(spectrum_gap(other, white)) < 0.01  # two white draws: nearly flat
    # a 2-pixel checkerboard holds all its power in one frequency cell, so every other cell of
    # its normalised spectrum sits at the floor while white noise's is flat at 1
    sign = (torch.arange(32)[:, None] + torch.arange(32)[None, :]) % 2 * 2 - 1
    chequer = sign.float().expand(8, 3, 32, 32)
    cells = (32 // 4) ** 2
    expected = ((cells - 1) * math.log(1e-3) ** 2 + math.log(cells) ** 2) / cells
    assert abs(float(spectrum_gap(chequer, white)) - expected) < 0.2 * expected


def test_the_zn_spectrum_term_reaches_the_decoder_and_the_zn_heads_only():
    net = _tiny(perturb=0.05)
    g = torch.Generator().manual_seed(1)
    clean = torch.rand(4, 3, 16, 16, generator=g)
    batch = {
        "clean": clean,
        "noisy": clean + 0.05 * torch.randn(clean.shape, generator=g),
        "domain": torch.tensor([Domain.PAIRED, Domain.PAIRED, Domain.SOURCE, Domain.TARGET]),
    }

    def grads(weight):
        net.zero_grad(set_to_none=True)
        objective = SeNMObjective(ObjectiveConfig(zn_spectrum_weight=weight, pixel_noise_weight=0.0))
        out = objective(net, batch, step=100, generator=torch.Generator().manual_seed(2))
        out.loss.backward()
        return out, {n: None if p.grad is None else p.grad.clone() for n, p in net.named_parameters()}

    without, base = grads(0.0)
    with_term, spectral = grads(1.0)
    assert "zn_spectrum" not in without.terms and float(with_term.terms["zn_spectrum"].detach()) > 0
    moved = {n for n in base if base[n] is not None and not torch.allclose(base[n], spectral[n])}
    assert any(n.startswith("output.") for n in moved) and any(".p_zn." in n or ".q_zn." in n for n in moved)
    assert not any(n.startswith(("clean_encoder.", "level_predictor.", "pixel_noise.")) for n in moved)
