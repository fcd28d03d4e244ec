"""benchmarks/gpu_check.py: without CUDA it runs nothing and exits 0; the test files it runs exist."""

import pytest
import torch

from tests.benchmarks import benchmark_module


@pytest.fixture()
def gpu_check(monkeypatch):
    yield from benchmark_module(monkeypatch, "gpu_check", "side_by_side", "reference_path")


def test_without_cuda_nothing_runs_and_the_exit_status_is_0(gpu_check, monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(gpu_check, "run_tests", lambda *a, **k: pytest.fail("ran the CUDA tests without CUDA"))
    assert gpu_check.main([]) == 0
    assert "no CUDA device" in capsys.readouterr().out


def test_the_cuda_test_files_exist_and_skip_without_cuda(gpu_check):
    for path in gpu_check.CUDA_TESTS:
        text = (gpu_check.ROOT / path).read_text()
        assert "skipif(not torch.cuda.is_available()" in text, path
