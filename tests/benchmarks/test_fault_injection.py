"""benchmarks/fault_injection.py stays applicable: every fault's text is in the code exactly once and its
test files exist (the faults themselves run from the script: a copy of src per fault)."""

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("fault_injection", ROOT / "benchmarks" / "fault_injection.py")
fault_injection = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("fault_injection", fault_injection)  # its dataclasses look their module up there
_spec.loader.exec_module(fault_injection)
FAULTS = fault_injection.FAULTS


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_every_fault_applies_to_the_code_as_it_is(fault):
    source = (ROOT / "src" / "senmvae" / fault.file).read_text()
    assert source.count(fault.old) == 1, f"update {fault.name} in benchmarks/fault_injection.py"
    assert fault.old != fault.new
    assert all((ROOT / test).is_file() for test in fault.tests)


def test_fault_names_are_unique():
    assert len({f.name for f in FAULTS}) == len(FAULTS)
