"""Loading any baseline noise model from its JSON file."""

from __future__ import annotations

import json
from pathlib import Path

from senmvae.baselines.base import BaselineNoiseModel
from senmvae.baselines.colored import ColoredHeteroscedasticGaussian
from senmvae.baselines.gaussian import AWGN, HeteroscedasticGaussian
from senmvae.baselines.oracle import RealNoiseOracle
from senmvae.errors import UserError

BASELINES: dict[str, type[BaselineNoiseModel]] = {
    cls.kind: cls for cls in (AWGN, HeteroscedasticGaussian, ColoredHeteroscedasticGaussian, RealNoiseOracle)
}


def baseline_from_dict(data: dict) -> BaselineNoiseModel:
    data = dict(data)
    kind = data.pop("kind", None)
    if kind not in BASELINES:
        raise UserError(f"unknown baseline noise model kind {kind!r}; expected one of {', '.join(BASELINES)}")
    try:
        return BASELINES[kind].from_parameters(**data)
    except TypeError as err:
        raise UserError(f"bad parameters for the {kind} noise model: {err}") from None


def load_baseline(path: str | Path) -> BaselineNoiseModel:
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"noise model file {path} does not exist") from None
    except json.JSONDecodeError as err:
        raise UserError(f"noise model file {path} is not valid JSON ({err}); re-save it") from None
    if not isinstance(data, dict):
        raise UserError(f"noise model file {path} must hold a JSON object with a 'kind'")
    try:
        return baseline_from_dict(data)
    except UserError as err:
        raise UserError(f"{path}: {err}") from None
