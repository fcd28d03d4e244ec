"""The pixel-noise terms of the objective against their closed form: the real noise y - x as s * u with
s^2 = sigma^2 + (zn's part)^2 per pixel and u the head's unit-variance field, and the calibration of each
crop's mean s^2 against the real noise's mean square."""

import pytest
import torch

from senmvae.domain import Domain
from senmvae.model import SeNMVAE, model_preset
from senmvae.model.config import PixelNoiseConfig
from senmvae.model.objective import ObjectiveConfig, SeNMObjective


def _model(kernel: int) -> SeNMVAE:
    """Every VAE weight perturbed, so that zn adds a part comparable to the noise; the pixel-noise head as new
    (sigma = level everywhere, and its field white with unit variance whatever its kernel size)."""
    torch.manual_seed(0)
    net = SeNMVAE(model_preset("tiny").replace(pixel_noise=PixelNoiseConfig(channels=8, layers=2, kernel=kernel)))
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, param in net.named_parameters():
            if not name.startswith("pixel_noise."):
                param.add_(0.05 * torch.randn(param.shape, generator=generator))
    return net


def _batch() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    clean = torch.rand(3, 3, 16, 16, generator=g)
    return {
        "clean": clean,
        "noisy": clean + 0.05 * torch.randn(clean.shape, generator=g),
        "domain": torch.tensor([Domain.PAIRED, Domain.PAIRED, Domain.TARGET]),
    }


@pytest.mark.parametrize("kernel", [1, 5])
def test_pixel_terms_are_the_gaussian_likelihood_of_the_real_noise_with_zns_part_in_the_variance(kernel):
    net, batch = _model(kernel), _batch()
    with torch.no_grad():
        out = SeNMObjective()(net, batch, step=100, generator=torch.Generator().manual_seed(2))
    forward = out.forward
    paired = forward.paired_rows
    zn_part = (forward.recon_noisy[: len(paired)] - forward.recon_noisy_without_zn).double()
    noise = (batch["noisy"] - batch["clean"])[paired].double()
    level = out.level[paired].double().view(-1, 1, 1, 1)
    variance = level**2 + zn_part**2
    assert float(zn_part.pow(2).mean()) > 0.25 * float(level.pow(2).mean())  # zn's part matters here
    nll = (0.5 * noise.pow(2) / variance + 0.5 * variance.log()).flatten(1).mean(1).mean()
    mean_square = noise.pow(2).flatten(1).mean(1)
    calibration = (variance.flatten(1).mean(1).log() - mean_square.log()).pow(2).mean()
    assert float(calibration) > 0.05  # the calibration has something to say
    assert float(out.terms["pixel_nll"]) == pytest.approx(float(nll), rel=1e-4)
    assert float(out.terms["pixel_calibration"]) == pytest.approx(float(calibration), rel=1e-4)


def test_the_pixel_terms_enter_the_loss_at_their_weight():
    net, batch = _model(1), _batch()
    losses, terms = [], None
    for weight in (0.0, 2.0):
        with torch.no_grad():
            out = SeNMObjective(ObjectiveConfig(pixel_noise_weight=weight))(
                net, batch, step=100, generator=torch.Generator().manual_seed(2)
            )
        losses.append(float(out.loss))
        terms = out.terms
    expected = 2.0 * float(terms["pixel_nll"] + terms["pixel_calibration"])
    assert losses[1] - losses[0] == pytest.approx(expected, rel=1e-4)
