"""Model files that senmvae did not write, or whose weights diverged, are refused in one short message."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from senmvae.errors import UserError
from senmvae.model import SeNMVAE, load_model, model_preset, save_model
from senmvae.model.io import FORMAT, FORMAT_VERSION


def metadata_of(net: SeNMVAE, model_config: str | None = None) -> dict[str, str]:
    config = json.dumps(net.config.to_dict()) if model_config is None else model_config
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "model_config": config}


def test_a_model_file_with_other_tensor_names_is_refused_in_a_short_message(tmp_path):
    net = SeNMVAE(model_preset("tiny"))
    path = tmp_path / "renamed.safetensors"
    state = {f"net.{k}": v.contiguous() for k, v in net.state_dict().items()}
    save_file(state, str(path), metadata=metadata_of(net))

    with pytest.raises(UserError) as caught:
        load_model(path)

    message = str(caught.value)
    assert str(path) in message and len(message) < 800
    assert f"{len(state)} missing keys" in message and f"{len(state)} unexpected keys" in message
    assert "this file was not written by senmvae for this model config" in message


def test_a_model_config_that_is_not_json_is_refused(tmp_path):
    net = SeNMVAE(model_preset("tiny"))
    path = tmp_path / "bad_config.safetensors"
    save_file(dict(net.state_dict()), str(path), metadata=metadata_of(net, model_config='{"channels": 8,'))

    with pytest.raises(UserError, match="model_config in its metadata is not valid JSON"):
        load_model(path)


def test_weights_that_are_not_finite_are_neither_saved_nor_loaded(tmp_path):
    net = SeNMVAE(model_preset("tiny"))
    with torch.no_grad():
        next(net.parameters())[0].fill_(float("nan"))
    path = tmp_path / "diverged.safetensors"

    with pytest.raises(UserError, match="weights are not finite.*retrain from an earlier checkpoint"):
        save_model(net, path)
    assert not path.exists() and not list(tmp_path.iterdir())

    state = {k: v.contiguous() for k, v in net.state_dict().items()}  # as a file from elsewhere would hold
    save_file(state, str(path), metadata=metadata_of(net))
    with pytest.raises(UserError, match=f"{path.name}: the model's weights are not finite"):
        load_model(path)
