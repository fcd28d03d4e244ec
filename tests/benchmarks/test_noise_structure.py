"""benchmarks/noise_structure.py --per-image: each image's own level, lag-1 and channel correlation."""

import pytest
import torch

from senmvae.evaluation.fidelity import EvalSet
from tests.benchmarks import benchmark_module


@pytest.fixture()
def structure_script(monkeypatch):
    yield from benchmark_module(monkeypatch, "noise_structure")


def test_each_image_gets_its_own_channel_correlation_and_level(structure_script):
    generator = torch.Generator().manual_seed(0)
    clean = torch.full((2, 3, 64, 64), 0.5)
    shared = torch.randn(1, 64, 64, generator=generator)
    own = torch.randn(3, 64, 64, generator=generator)
    correlated = 0.02 * (shared + own) / 2**0.5  # channel correlation 1/2, white in space
    independent = 0.01 * torch.randn(3, 64, 64, generator=generator)
    pairs = EvalSet(["a", "b"], clean, clean + torch.stack([correlated, independent]))
    level_a, lag1_a, channels_a = structure_script.per_image_structure(pairs, 0)
    level_b, _, channels_b = structure_script.per_image_structure(pairs, 1)
    assert level_a == pytest.approx(0.02 * 255, rel=0.05) and level_b == pytest.approx(0.01 * 255, rel=0.05)
    assert channels_a == pytest.approx(0.5, abs=0.05) and channels_b == pytest.approx(0.0, abs=0.05)
    assert lag1_a == pytest.approx(0.0, abs=0.05)
