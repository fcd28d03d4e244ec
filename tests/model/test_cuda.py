"""The network on a CUDA device (skipped without one; benchmarks/gpu_check.py runs these)."""

import numpy as np
import pytest
import torch

from senmvae.domain import Domain
from senmvae.model import load_official
from senmvae.model.objective import SeNMObjective
from tests.conftest import OFFICIAL_FIXTURE, require
from tests.generate.helpers import stochastic_tiny

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.fixture(autouse=True)
def full_float32():
    """cuDNN may use TF32 by default, which rounds to 10 mantissa bits; these tests compare float32."""
    with torch.backends.cudnn.flags(enabled=True, benchmark=False, deterministic=True, allow_tf32=False):
        yield


def test_the_official_fixture_is_reproduced_on_cuda():
    io = dict(np.load(require(OFFICIAL_FIXTURE) / "io.npz"))
    model = load_official(OFFICIAL_FIXTURE / "official_state_dict.pth").cuda()
    with torch.no_grad():
        clean, level = torch.from_numpy(io["clean"]).cuda(), torch.from_numpy(io["level"]).flatten().cuda()
        translated = model.sample(clean, level, temperature=0).cpu().numpy()
        denoised = model.denoise(torch.from_numpy(io["noisy"]).cuda(), temperature=0).cpu().numpy()
    assert np.abs(translated - io["translate_mean"]).max() < 1e-5
    assert np.abs(denoised - io["denoise_mean"]).max() < 1e-5


def test_sampling_on_cuda_gives_the_cpu_result_for_the_same_draws():
    net = stochastic_tiny()
    clean = torch.rand(2, 3, 24, 40, generator=torch.Generator().manual_seed(0))
    draws: dict[tuple[int, str], torch.Tensor] = {}

    def noise(index, name, like):
        key = (index, name)
        if key not in draws:
            draws[key] = torch.randn(like.shape, generator=torch.Generator().manual_seed(len(draws)))
        return draws[key].to(like.device)

    with torch.no_grad():
        on_cpu = net.sample(clean, [0.02, 0.05], noise=noise)
        on_cuda = net.cuda().sample(clean.cuda(), [0.02, 0.05], noise=noise).cpu()
    torch.testing.assert_close(on_cuda, on_cpu, atol=1e-5, rtol=1e-5)


def _batch(domains):
    g = torch.Generator().manual_seed(1)
    clean = torch.rand(len(domains), 3, 16, 16, generator=g)
    noisy = clean + 0.05 * torch.randn(clean.shape, generator=g)
    return {"clean": clean.cuda(), "noisy": noisy.cuda(), "domain": torch.tensor([int(d) for d in domains]).cuda()}


@pytest.mark.parametrize("dtype", [None, torch.bfloat16])
def test_a_training_step_on_cuda_trains_every_branch(dtype):
    net = stochastic_tiny().cuda().train()
    batch = _batch([Domain.PAIRED, Domain.SOURCE, Domain.TARGET, Domain.PAIRED])
    with torch.autocast("cuda", dtype=dtype or torch.float32, enabled=dtype is not None):
        loss = SeNMObjective()(net, batch, step=100, generator=torch.Generator("cuda").manual_seed(0)).loss
    loss.backward()
    assert torch.isfinite(loss)
    grads = {n: p.grad for n, p in net.named_parameters()}
    assert all(g is not None and torch.isfinite(g).all() for g in grads.values())
    for part in ("clean_encoder.", "noisy_encoder.", "degradation_encoder.", ".q_zn.", ".p_zn.", ".q_z_noisy."):
        assert any(g.abs().sum() > 0 for n, g in grads.items() if part in n), part


def test_clean_only_samples_leave_the_noisy_branches_untouched_on_cuda():
    net = stochastic_tiny().cuda().train()
    objective = SeNMObjective()(
        net, _batch([Domain.SOURCE] * 3), step=100, generator=torch.Generator("cuda").manual_seed(0)
    )
    objective.loss.backward()
    for name, p in net.named_parameters():
        if any(part in name for part in ("noisy_encoder.", "degradation_encoder.", ".q_zn.", ".p_zn.")):
            assert p.grad is None or not p.grad.any(), name
