"""Read checkpoints of the authors' SeNM-VAE code (a plain ``state_dict`` saved by ``torch.save``).

The architecture is inferred from the tensor shapes: channel counts from the stems, the
zn width from the projections, the dense-block growth from a Gaussian head, the number of
stem downsamplings from the stem, and the grouping of levels from which encoder levels are
downsamplers. The official files carry no noise-level predictor, so the returned model has
none and generation needs an explicit noise level.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from senmvae.errors import UserError, torch_load_problem
from senmvae.model.config import ModelConfig
from senmvae.model.network import SeNMVAE

_HEADS = {"Gauconv_z_H": "q_z_clean", "Gauconv_z_L": "q_z_noisy", "Gauconv_zn_q": "q_zn", "Gauconv_zn_p": "p_zn"}
_ENCODERS = {"H": "clean_encoder", "L": "noisy_encoder", "N": "degradation_encoder"}


def _rdb(rest: str) -> str | None:
    m = re.fullmatch(r"net\.conv([1-5])\.(weight|bias)", rest)
    return f"convs.{int(m.group(1)) - 1}.{m.group(2)}" if m else None


def _resampler(rest: str, kind: str) -> str | None:
    m = re.fullmatch(rf"{kind}\.1\.(weight|bias)", rest)
    return f"conv.{m.group(1)}" if m else None


def official_key_to_ours(key: str, num_down: int) -> str | None:
    """Name in :class:`SeNMVAE` of an official parameter, or None when it has no counterpart."""
    if m := re.fullmatch(r"inconv_([HLN])\.(\d+)\.(.+)", key):
        enc, idx, rest = _ENCODERS[m.group(1)], int(m.group(2)), m.group(3)
        if idx == 0:
            return f"{enc}.stem.0.{rest}"
        sub = _resampler(rest, "down")
        return f"{enc}.stem.{idx}.{sub}" if sub else None
    if m := re.fullmatch(r"encs_([HLN])\.(\d+)\.(.+)", key):
        enc, idx, rest = _ENCODERS[m.group(1)], m.group(2), m.group(3)
        sub = _rdb(rest) or _resampler(rest, "down")
        return f"{enc}.blocks.{idx}.{sub}" if sub else None
    if m := re.fullmatch(r"(Gauconv_\w+?)\.(\d+)\.([mv])\.(\d)\.(.+)", key):
        head, idx, branch, part, rest = m.groups()
        if head not in _HEADS:
            return None
        branch = "mean" if branch == "m" else "log_sigma"
        sub = _rdb(rest) if part == "0" else rest
        return f"levels.{idx}.{_HEADS[head]}.{branch}.{part}.{sub}" if sub else None
    if m := re.fullmatch(r"dec\.(\d+)\.(.+)", key):
        sub = _rdb(m.group(2)) or _resampler(m.group(2), "up")
        return f"levels.{m.group(1)}.block.{sub}" if sub else None
    if m := re.fullmatch(r"(proj_zn?)\.(\d+)\.(weight|bias)", key):
        return f"levels.{m.group(2)}.{m.group(1)}.{m.group(3)}"
    if m := re.fullmatch(r"outconv\.(\d+)\.(.+)", key):
        idx, rest = int(m.group(1)), m.group(2)
        if idx < num_down:
            sub = _resampler(rest, "up")
            return f"output.{idx}.{sub}" if sub else None
        return f"output.{idx}.{rest}"
    return None


def _unwrap(obj: object, path: Path) -> dict[str, torch.Tensor]:
    if isinstance(obj, dict):
        for key in ("state_dict", "params_ema", "params", "model"):
            if isinstance(obj.get(key), dict) and len(obj) <= 4:
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise UserError(f"{path} is not a state_dict of tensors; expected a checkpoint of the official SeNM-VAE code")
    return {k.removeprefix("module."): v for k, v in obj.items()}


def infer_official_config(state: dict[str, torch.Tensor], path: Path | str = "checkpoint") -> ModelConfig:
    """The :class:`ModelConfig` that an official state_dict was made with, from its shapes."""
    try:
        stem = state["inconv_H.0.weight"]
        n_levels = len({k.split(".")[1] for k in state if k.startswith("proj_z.")})
        zn_channels = state["proj_zn.0.weight"].shape[1]
        growth = state["Gauconv_z_H.0.m.0.net.conv1.weight"].shape[0]
    except KeyError as err:
        raise UserError(
            f"{path} lacks {err.args[0]!r}: it is not a checkpoint of the official SeNM-VAE code "
            "(a plain state_dict of its SeNMVAE network)"
        ) from None
    num_down = len({k.split(".")[1] for k in state if re.match(r"inconv_H\.\d+\.down\.", k)})
    resample = [f"encs_H.{i}.down.1.weight" in state for i in range(n_levels)]
    groups, count = [], 0
    for is_resample in resample:
        if is_resample:
            if count == 0:
                raise UserError(f"{path}: a resampling level without plain levels below it; unsupported layout")
            groups.append(count)
            count = 0
        else:
            count += 1
    if count == 0:
        raise UserError(f"{path}: the top level is a resampling level; unsupported layout")
    groups.append(count)
    return ModelConfig(
        in_channels=stem.shape[1],
        channels=stem.shape[0],
        growth=growth,
        levels_per_group=tuple(groups),
        zn_channels=zn_channels,
        num_down=num_down,
        level_predictor=None,
    )


def convert_official_state(state: dict[str, torch.Tensor], path: Path | str = "checkpoint") -> SeNMVAE:
    cfg = infer_official_config(state, path)
    model = SeNMVAE(cfg)
    ours = model.state_dict()
    converted, unknown = {}, []
    for key, value in state.items():
        name = official_key_to_ours(key, cfg.num_down)
        if name is None or name not in ours:
            unknown.append(key)
            continue
        if ours[name].shape != value.shape:
            raise UserError(f"{path}: {key} has shape {tuple(value.shape)}, expected {tuple(ours[name].shape)}")
        converted[name] = value.float()
    missing = sorted(set(ours) - set(converted))
    if unknown or missing:
        detail = "; ".join(
            part
            for part in (
                f"unexpected keys: {', '.join(unknown[:5])}" if unknown else "",
                f"missing: {', '.join(missing[:5])}" if missing else "",
            )
            if part
        )
        raise UserError(f"{path} does not match the official SeNM-VAE layout ({detail})")
    model.load_state_dict(converted)
    return model.eval()


def load_official(path: str | Path) -> SeNMVAE:
    """Load a checkpoint of the authors' code; never unpickles arbitrary objects.

    The model is returned for inference, as :func:`~senmvae.model.io.load_model` returns one:
    in eval mode with its weights frozen, so ``sample`` and ``denoise`` give tensors without
    autograd history (``requires_grad_(True)`` and ``train()`` to train it directly)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path} does not exist or is not a file")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for corrupt or unsafe files
        raise UserError(
            f"{path} cannot be read: {torch_load_problem(err)}; expected the .pth file of the official "
            "SeNM-VAE code (a plain state_dict), copied whole"
        ) from None
    return convert_official_state(_unwrap(obj, path), path).requires_grad_(False)
