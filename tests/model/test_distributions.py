import torch

from senmvae.model.distributions import DiagonalGaussian


def _gaussian(seed: int, shape=(2, 3, 4, 4)) -> DiagonalGaussian:
    g = torch.Generator().manual_seed(seed)
    return DiagonalGaussian(torch.randn(shape, generator=g), 0.5 * torch.randn(shape, generator=g))


def test_kl_matches_monte_carlo_estimate():
    p, q = _gaussian(0, (1, 1, 1, 5)), _gaussian(1, (1, 1, 1, 5))
    g = torch.Generator().manual_seed(2)
    many = DiagonalGaussian(p.mean.expand(200_000, -1, -1, -1), p.log_sigma.expand(200_000, -1, -1, -1))
    samples = many.sample(g)
    mc = (p.log_prob(samples) - q.log_prob(samples)).mean(0, keepdim=True)
    torch.testing.assert_close(mc, p.kl(q), rtol=0.03, atol=0.01)


def test_kl_of_a_distribution_with_itself_is_zero():
    p = _gaussian(3)
    assert torch.equal(p.kl(p), torch.zeros_like(p.mean))


def test_kl_closed_form_for_unit_and_shifted():
    p = DiagonalGaussian(torch.tensor([1.0]), torch.tensor([0.0]))
    q = DiagonalGaussian(torch.tensor([0.0]), torch.tensor([0.0]))
    torch.testing.assert_close(p.kl(q), torch.tensor([0.5]))  # (mu1 - mu2)^2 / 2
    s = DiagonalGaussian(torch.tensor([0.0]), torch.log(torch.tensor([2.0])))
    # KL(N(0, 4) || N(0, 1)) = log(1 / 2) + 4 / 2 - 1 / 2
    torch.testing.assert_close(s.kl(q), torch.tensor([1.5 - 0.6931472]))


def test_temperature_scales_sigma_not_mean():
    p = _gaussian(4)
    assert torch.equal(p.sample(temperature=0.0), p.mean)
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    full, half = p.sample(g1, 1.0), p.sample(g2, 0.5)
    torch.testing.assert_close(half - p.mean, 0.5 * (full - p.mean))


def test_per_row_generators_make_rows_independent_of_batch():
    p = _gaussian(6, (3, 2, 4, 4))
    together = p.sample([torch.Generator().manual_seed(s) for s in (10, 11, 12)])
    alone = p.index(slice(1, 2)).sample([torch.Generator().manual_seed(11)])
    torch.testing.assert_close(together[1:2], alone, rtol=0, atol=0)
