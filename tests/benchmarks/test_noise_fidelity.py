"""benchmarks/noise_fidelity.py's component table: each part's share of the noise variance and its
structure, from the rows the script measures."""

import numpy as np
import pytest

from senmvae.metrics import NoisePlacement
from tests.benchmarks import benchmark_module


@pytest.fixture()
def fidelity_script(monkeypatch):
    yield from benchmark_module(monkeypatch, "noise_fidelity")


def draws(std: float, lag1: float, **others: float) -> list[dict[str, float]]:
    figures = {"noise_std_8bit": std, "lag1": lag1, "channels": 0.1, "spectrum_distance": 0.2}
    figures |= {"checkerboard_ratio": 0.3, "kl_noise": 0.4, "akld_reverse": 0.5} | others
    return [figures, {**figures, "lag1": lag1 + 0.2}]


def test_the_component_table_gives_each_part_its_share_of_the_variance(fidelity_script):
    rows = {
        "heteroscedastic": draws(3.0, 0.0),
        "m content-exact T1": draws(5.0, 0.5),
        "m content-exact T0": draws(1.0, 0.5),
        "m content-exact zn alone T1": draws(3.0, 0.7),
        "m content-exact pixel alone T1": draws(4.0, 0.1),
        "m paper T1": draws(6.0, 0.5),
        "real": draws(4.5, 0.6),
    }
    lines = fidelity_script.component_table(rows).splitlines()
    body = [line for line in lines[2:] if line.startswith("| m content-exact")]
    assert [line.split(" | ")[1] for line in body] == ["all", "zn", "pixel"]
    assert [line.split(" | ")[3] for line in body] == ["100%", "36%", "64%"]  # 9/25 and 16/25
    assert body[1].split(" | ")[4] == "0.800"  # the mean over the draws of zn's lag-1
    assert not any("paper" in line for line in lines)  # no parts measured for it: no rows
    assert lines[-1].startswith("| real | | 4.50 |")


def test_the_placement_table_gives_the_mean_over_draws_in_8_bit_units(fidelity_script):
    draws_of_a = [
        NoisePlacement(by_contrast=np.full(5, 0.01), by_brightness=np.array([0.02, 0.018, 0.016, 0.014, 0.01])),
        NoisePlacement(by_contrast=np.full(5, 0.03), by_brightness=np.array([0.02, 0.018, 0.016, 0.014, 0.01])),
    ]
    means = fidelity_script.placement_means(draws_of_a)
    assert means["by_contrast"] == pytest.approx([0.02 * 255] * 5)
    assert means["by_brightness"][0] == pytest.approx(0.02 * 255) and means["by_brightness"][-1] == pytest.approx(2.55)
    lines = fidelity_script.placement_table({"a T1": means, "real": means}).splitlines()
    assert lines[2] == "| a T1 | 5.10 / 5.10 / 5.10 / 5.10 / 5.10 | 5.10 / 4.59 / 4.08 / 3.57 / 2.55 |"
    assert lines[3].startswith("| real |")


def test_the_per_image_table_names_each_image_by_its_file(fidelity_script):
    table = fidelity_script.per_image_table(["nam/nam_02", "nam/nam_06"], {"a T1": [0.01, 0.02546], "real": [0, 0]})
    lines = table.splitlines()
    assert lines[0] == "| noise | nam_02 | nam_06 |"
    assert lines[2] == "| a T1 | 0.0100 | 0.0255 |" and lines[3] == "| real | 0.0000 | 0.0000 |"
