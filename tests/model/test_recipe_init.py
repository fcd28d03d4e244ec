"""The initialisation options of the fast CPU recipe, and decoding without zn."""

import pytest
import torch

from senmvae.config import ConfigError
from senmvae.domain import Domain
from senmvae.model import SeNMVAE, model_preset
from senmvae.model.config import ModelConfig
from senmvae.model.objective import ObjectiveConfig, SeNMObjective


def test_official_init_keeps_the_projections_at_zero_and_sigma_at_one():
    model = SeNMVAE(model_preset("tiny"))
    for level in model.levels:
        assert not level.proj_z.weight.any() and not level.proj_zn.weight.any()
        assert not level.q_z_clean.log_sigma[1].bias.any()


def test_recipe_init_starts_the_content_path_open_and_the_posterior_narrow():
    cfg = model_preset("tiny").merged({"projection_gain": 0.1, "content_log_sigma_bias": -2.5})
    model = SeNMVAE(cfg)
    c = cfg.channels
    for level in model.levels:
        torch.testing.assert_close(level.proj_z.weight, 0.1 * torch.eye(c).view(c, c, 1, 1))
        assert level.proj_zn.weight.abs().sum() > 0
        for head in (level.q_z_clean, level.q_z_noisy):
            assert torch.all(head.log_sigma[1].bias == -2.5)


def test_level_scale_multiplies_the_level_the_zn_heads_see():
    torch.manual_seed(0)
    plain = SeNMVAE(model_preset("tiny").merged({"projection_gain": 0.5})).eval()
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():  # at initial weights the zn heads ignore the level: perturb every weight
        for param in plain.parameters():
            param.add_(0.05 * torch.randn(param.shape, generator=generator))
    scaled = SeNMVAE(plain.config.merged({"level_scale": 4.0})).eval()
    scaled.load_state_dict(plain.state_dict())
    clean = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        a = plain.sample(clean, level=0.2, temperature=0.0)
        b = scaled.sample(clean, level=0.05, temperature=0.0)
        unscaled = plain.sample(clean, level=0.05, temperature=0.0)
    torch.testing.assert_close(a, b)
    assert (a - unscaled).abs().max() > 1e-3  # the level the heads see changes the output


@pytest.mark.parametrize(
    "bad", [{"level_scale": 0.0}, {"projection_gain": -1.0}, {"content_log_sigma_bias": float("nan")}]
)
def test_bad_init_settings_are_refused(bad):
    with pytest.raises(ConfigError):
        ModelConfig().merged(bad)


def test_without_zn_the_paired_rows_decode_like_the_noisy_stream_when_zn_adds_nothing():
    torch.manual_seed(0)
    model = SeNMVAE(model_preset("tiny").merged({"projection_gain": 0.3}))
    for level in model.levels:
        torch.nn.init.zeros_(level.proj_zn.weight)  # zn contributes nothing
        torch.nn.init.zeros_(level.proj_zn.bias)
    clean = torch.rand(3, 3, 16, 16)
    noisy = clean + 0.05 * torch.randn_like(clean)
    domain = torch.tensor([Domain.PAIRED, Domain.PAIRED, Domain.TARGET])
    out = model(
        clean, noisy, domain, torch.full((3,), 0.05), generator=torch.Generator().manual_seed(0), decode_without_zn=True
    )
    assert out.recon_noisy_without_zn.shape == (2, 3, 16, 16)
    torch.testing.assert_close(out.recon_noisy_without_zn, out.recon_noisy[:2], atol=1e-6, rtol=0)


def test_the_noise_residual_term_compares_what_zn_adds_with_the_real_noise():
    torch.manual_seed(0)
    model = SeNMVAE(model_preset("tiny").merged({"projection_gain": 0.3}))
    for level in model.levels:
        torch.nn.init.zeros_(level.proj_zn.weight)
        torch.nn.init.zeros_(level.proj_zn.bias)
    clean = torch.rand(2, 3, 16, 16)
    noisy = clean + 0.1 * torch.randn_like(clean)
    batch = {"clean": clean, "noisy": noisy, "domain": torch.tensor([Domain.PAIRED, Domain.PAIRED])}
    out = SeNMObjective(ObjectiveConfig(noise_residual_weight=1.0, gan_weight=0, perceptual_weight=0))(model, batch, 0)
    # zn adds nothing, so the residual is the whole real noise
    assert float(out.terms["noise_residual"].detach()) == pytest.approx(float((noisy - clean).pow(2).mean()), rel=1e-5)
    plain = SeNMObjective(ObjectiveConfig(gan_weight=0, perceptual_weight=0))(model, batch, 0)
    assert "noise_residual" not in plain.terms and plain.forward.recon_noisy_without_zn is None
