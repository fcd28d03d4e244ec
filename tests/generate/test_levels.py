import math

import numpy as np
import pytest
import torch

from senmvae.errors import UserError
from senmvae.generate.levels import (
    ChoiceLevel,
    FixedLevel,
    SIDDPrior,
    UniformLevel,
    as_policy,
    level_of_sequence,
    measure_level,
    parse_level,
)


def test_parse_level_forms():
    assert parse_level("0.03") == FixedLevel(0.03)
    assert parse_level(" 0.01:0.05 ") == UniformLevel(0.01, 0.05)
    assert parse_level("0.01,0.02,0.04") == ChoiceLevel((0.01, 0.02, 0.04))
    assert parse_level("SIDD") == SIDDPrior()
    assert as_policy(0.02) == FixedLevel(0.02)


@pytest.mark.parametrize("bad", ["abc", "0.05:0.01", "-0.1", "25", "0.1:x", ","])
def test_parse_level_refuses_nonsense(bad):
    with pytest.raises(UserError):
        parse_level(bad)


def test_eight_bit_levels_are_refused_with_the_conversion():
    with pytest.raises(UserError, match="divide by 255"):
        FixedLevel(15)


def test_uniform_draw_is_the_generators_uniform_scaled():
    g, twin = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    u = float(torch.rand((), generator=twin, dtype=torch.float64))
    assert UniformLevel(0.01, 0.05).draw(g) == pytest.approx(0.01 + 0.04 * u, abs=1e-15)


def test_choice_draws_every_value_and_nothing_else():
    policy = ChoiceLevel((0.01, 0.02, 0.03))
    g = torch.Generator().manual_seed(0)
    drawn = {policy.draw(g) for _ in range(200)}
    assert drawn == {0.01, 0.02, 0.03}


def test_fixed_level_consumes_no_randomness():
    g = torch.Generator().manual_seed(1)
    state = g.get_state()
    assert FixedLevel(0.02).draw(g) == 0.02
    assert torch.equal(g.get_state(), state)


def test_sidd_prior_is_the_formula_of_the_official_scripts():
    g, twin = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    u = float(torch.rand((), generator=twin, dtype=torch.float64))
    n = float(torch.randn((), generator=twin, dtype=torch.float64))
    lo, hi = math.log10(0.00068674), math.log10(0.02194856)
    log_shot = lo + (hi - lo) * u
    log_read = 1.85 * log_shot + 0.30 + 0.20 * n
    assert SIDDPrior().draw(g) == pytest.approx(math.sqrt(10**log_shot + 10**log_read), rel=1e-12)


def test_sidd_prior_range_without_read_scatter():
    # with no scatter the level is a monotone function of shot: its extremes are closed-form
    prior = SIDDPrior(read_sigma=0.0)
    g = torch.Generator().manual_seed(0)
    levels = [prior.draw(g) for _ in range(500)]

    def level(shot):
        return math.sqrt(shot + 10 ** (1.85 * math.log10(shot) + 0.30))

    assert level(0.00068674) <= min(levels) < max(levels) <= level(0.02194856)
    assert min(levels) < level(0.002) and max(levels) > level(0.015)


def test_measure_level_is_the_std_of_the_difference():
    clean = np.full((4, 4, 3), 0.5, np.float32)
    noise = np.tile(np.array([0.1, -0.1], np.float32), 24).reshape(4, 4, 3)
    # 48 values of +-0.1 with zero mean: unbiased std = 0.1 * sqrt(48 / 47)
    assert measure_level(clean + noise, clean) == pytest.approx(0.1 * math.sqrt(48 / 47), rel=1e-6)
    with pytest.raises(UserError, match="equal sizes"):
        measure_level(clean[:2], clean)


def test_level_of_sequence_broadcasts_one_value():
    assert level_of_sequence(0.02, 3) == [0.02] * 3
    assert level_of_sequence([0.01, 0.02], 2) == pytest.approx([0.01, 0.02])
    with pytest.raises(UserError, match="one per image"):
        level_of_sequence([0.01, 0.02], 3)


def test_long_choices_are_described_briefly_but_distinctly():
    many = ChoiceLevel(tuple(0.01 + 0.001 * i for i in range(50)))
    other = ChoiceLevel(tuple(0.01 + 0.001 * i for i in range(49)) + (0.5,))
    assert len(many.describe()) < 200 and many.describe() != other.describe()
