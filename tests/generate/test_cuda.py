"""Generation on a CUDA device (skipped without one; benchmarks/gpu_check.py runs these)."""

import numpy as np
import pytest
import torch

from senmvae.generate import NoiseModel
from tests.generate.helpers import smooth_image, stochastic_tiny

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.fixture(autouse=True)
def full_float32():
    with torch.backends.cudnn.flags(enabled=True, benchmark=False, deterministic=True, allow_tf32=False):
        yield


def generators(*seeds):
    return [torch.Generator().manual_seed(s) for s in seeds]


def _images(count, height, width):
    return torch.from_numpy(np.stack([smooth_image(height, width, s) for s in range(count)])).permute(0, 3, 1, 2)


def test_cuda_gives_the_cpu_output_for_the_same_generators():
    clean = _images(2, 40, 56)
    on_cpu = NoiseModel(stochastic_tiny(), level="0.01:0.08").sample(clean, generator=generators(3, 4))
    on_cuda = NoiseModel(stochastic_tiny(), level="0.01:0.08", device="cuda").sample(clean, generator=generators(3, 4))
    assert on_cuda.device.type == "cpu"  # returned where the input was
    torch.testing.assert_close(on_cuda, on_cpu, atol=1e-5, rtol=1e-5)


def test_each_output_on_cuda_depends_only_on_its_own_generator():
    clean = _images(3, 40, 56).cuda()
    model = NoiseModel(stochastic_tiny(), level=0.04, device="cuda")
    batch = model.sample(clean, generator=generators(10, 11, 12))
    alone = torch.cat([model.sample(clean[i : i + 1], generator=generators(10 + i)) for i in range(3)])
    torch.testing.assert_close(batch, alone, atol=1e-5, rtol=0)


def test_tiles_on_cuda_reproduce_the_whole_image():
    clean = _images(1, 150, 110)
    tiled = NoiseModel(stochastic_tiny(), level=0.05, tile_size=64, tile_overlap=16, device="cuda")
    whole = NoiseModel(stochastic_tiny(), level=0.05, tile_size=4096, device="cuda")
    a, b = tiled.sample(clean, generator=generators(0)), whole.sample(clean, generator=generators(0))
    assert (a - b).abs().max() < 2e-3
