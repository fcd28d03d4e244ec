"""benchmarks/recipe_curve.py: each ablation recipe is a valid config that differs from the cpu
preset in exactly the lever it names, and the official recipe sets every lever back."""

import pytest

from senmvae.train.config import train_preset
from tests.benchmarks import benchmark_module


@pytest.fixture()
def recipe_curve(monkeypatch):
    yield from benchmark_module(monkeypatch, "recipe_curve")


def _flat(cfg: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in cfg.items():
        if isinstance(value, dict):
            out |= _flat(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = value
    return out


def _changed(a: dict, b: dict) -> set[str]:
    return {key for key in a.keys() | b.keys() if a.get(key) != b.get(key)}


def _covered(keys: set[str], levers: set[str]) -> set[str]:
    return {lever for lever in levers if any(k == lever or k.startswith(lever + ".") for k in keys)}


def test_each_lever_recipe_changes_only_its_lever(recipe_curve):
    fast = _flat(train_preset("cpu").to_dict())
    for name in recipe_curve.LEVERS:
        recipe = recipe_curve.RECIPES[name]
        changed = _changed(fast, _flat(train_preset("cpu").merged(recipe).to_dict()))
        levers = set(_flat(recipe))
        assert _covered(changed, levers) == levers, name
        assert all(any(k == lever or k.startswith(lever + ".") for lever in levers) for k in changed), name


def test_official_recipe_is_the_paper_recipe_on_the_cpu_model(recipe_curve):
    official = train_preset("cpu").merged(recipe_curve.OFFICIAL)
    paper = train_preset("paper")
    assert official.objective == paper.objective
    assert official.optim.lr == paper.optim.lr
    assert official.schedule.lr_schedule == paper.schedule.lr_schedule
    assert official.init.output_bias == paper.init.output_bias
    for lever in ("projection_gain", "content_log_sigma_bias", "level_scale", "pixel_noise"):
        assert getattr(official.model, lever) == getattr(paper.model, lever), lever
