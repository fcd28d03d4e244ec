"""Tests of the scripts under benchmarks/, each imported as a module."""

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def benchmark_module(monkeypatch: pytest.MonkeyPatch, name: str, *also: str) -> Iterator[ModuleType]:
    """For a fixture: benchmarks/NAME.py imported as a module; afterwards it (and the benchmark
    modules ``also`` that it imports) are forgotten, so the next test imports them afresh."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    yield importlib.import_module(name)
    for module in (name, *also):
        sys.modules.pop(module, None)
