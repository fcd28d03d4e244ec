"""Typed configuration: dataclasses that load from dicts/YAML and reject unknown keys.

Every config in the project derives from :class:`Config`. ``from_dict`` walks nested
dataclasses, converts lists to tuples where the field is a tuple, and raises
:class:`ConfigError` naming the offending key (with its dotted path) when a key is unknown.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from senmvae.errors import UserError

C = TypeVar("C", bound="Config")


class ConfigError(UserError, ValueError):
    """A configuration file or override that cannot be applied."""


def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _is_config_type(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, Config)


def _coerce(value: Any, tp: Any, path: str) -> Any:
    origin = typing.get_origin(tp)
    if _is_config_type(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a mapping, got {type(value).__name__}")
        return tp.from_dict(value, _path=path)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _coerce(value, args[0], path) if len(args) == 1 else value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{path}: expected a list, got {value!r}")
        args = typing.get_args(tp)
        inner = args[0] if args else Any
        return tuple(_coerce(v, inner, path) for v in value)
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if tp is int and isinstance(value, float) and value.is_integer():
        return int(value)
    if tp in (int, float, str, bool) and not isinstance(value, tp):
        if tp is float and isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{path}: expected {tp.__name__}, got {value!r}")
    return value


@dataclasses.dataclass
class Config:
    """Base class: dict/YAML round trip with strict keys."""

    @classmethod
    def from_dict(cls: type[C], data: dict[str, Any] | None, _path: str = "") -> C:
        data = dict(data or {})
        hints = _field_types(cls)
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            where = f" in '{_path}'" if _path else ""
            raise ConfigError(
                f"unknown config key{'s' if len(unknown) > 1 else ''} {', '.join(repr(k) for k in unknown)}"
                f"{where}; valid keys: {', '.join(sorted(names))}"
            )
        kwargs = {}
        for name, value in data.items():
            sub = f"{_path}.{name}" if _path else name
            kwargs[name] = _coerce(value, hints[name], sub)
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        def convert(v: Any) -> Any:
            if isinstance(v, Config):
                return v.to_dict()
            if isinstance(v, tuple):
                return [convert(x) for x in v]
            if isinstance(v, Path):
                return str(v)
            return v

        return {f.name: convert(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def replace(self: C, **changes: Any) -> C:
        return dataclasses.replace(self, **changes)

    def merged(self: C, data: dict[str, Any]) -> C:
        """A copy with ``data`` (a possibly nested partial dict) applied on top."""
        return type(self).from_dict(_deep_merge(self.to_dict(), data))

    def with_overrides(self: C, overrides: list[str]) -> C:
        """Apply ``key.sub=value`` strings (values parsed as YAML scalars/lists)."""
        patch: dict[str, Any] = {}
        for item in overrides:
            if "=" not in item:
                raise ConfigError(f"override {item!r} must look like key=value")
            key, raw = item.split("=", 1)
            node = patch
            parts = key.strip().split(".")
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = _override_value(item, raw)
        return self.merged(patch)

    @classmethod
    def from_yaml(cls: type[C], path: str | Path) -> C:
        data = read_yaml_mapping(path)
        try:
            return cls.from_dict(data)
        except ConfigError as err:
            raise ConfigError(f"{path}: {err}") from None

    def to_yaml(self, path: str | Path) -> None:
        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))


def _override_value(item: str, raw: str) -> Any:
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError as err:
        problem = getattr(err, "problem", None) or type(err).__name__
        raise ConfigError(
            f"override {item!r}: the value {raw!r} is not valid YAML ({problem}); write it as YAML, "
            'e.g. key=0.5, key=[0.9,0.999] or key="text" (quote the whole --set argument in the shell)'
        ) from None


def read_yaml_mapping(path: str | Path) -> dict[str, Any]:
    """The top-level mapping of a YAML config file, with errors that name the file."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"config file {path} is not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping at the top level")
    return data


def _deep_merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out
