"""Strict conversion between JSON dicts and the emulator's frozen dataclasses.

The admin API accepts JSON from other processes, so a wrong key or type must be
a clear 400 rather than a crash deep inside a request handler.
"""

from __future__ import annotations

import dataclasses
import types
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

T = TypeVar("T")


class ConfigError(ValueError):
    """A JSON document does not describe a valid emulator object."""


def from_json_dict(cls: type[T], data: object) -> T:
    """Build dataclass `cls` from a JSON object, checking keys and types."""
    if not isinstance(data, dict):
        msg = f"{cls.__name__} must be a JSON object"
        raise ConfigError(msg)
    fields = {field.name: field for field in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        msg = f"{cls.__name__} has unknown keys: {', '.join(unknown)}"
        raise ConfigError(msg)
    missing = sorted(
        name
        for name, field in fields.items()
        if name not in data
        and field.default is dataclasses.MISSING
        and field.default_factory is dataclasses.MISSING
    )
    if missing:
        msg = f"{cls.__name__} is missing keys: {', '.join(missing)}"
        raise ConfigError(msg)
    hints = get_type_hints(cls)
    values = {key: _coerce(key, value, hints[key]) for key, value in data.items()}
    return cls(**values)


def to_json_dict(obj: object) -> dict[str, Any]:
    """Dump a dataclass instance to a JSON-ready dict (tuples become lists)."""
    return dataclasses.asdict(obj)  # type: ignore[call-overload,no-any-return]


def _coerce(name: str, value: object, hint: Any) -> object:  # noqa: ANN401, C901, PLR0911
    """Check one JSON value against a type hint, converting where JSON is looser."""
    origin = get_origin(hint)
    if origin is Literal:
        if value in get_args(hint):
            return value
        msg = f"{name} must be one of {', '.join(map(repr, get_args(hint)))}"
        raise ConfigError(msg)
    if origin in (Union, types.UnionType):
        for option in get_args(hint):
            try:
                return _coerce(name, value, option)
            except ConfigError:
                continue
        msg = f"{name} has the wrong type"
        raise ConfigError(msg)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            msg = f"{name} must be a list"
            raise ConfigError(msg)
        item_hint = get_args(hint)[0]
        return tuple(
            _coerce(f"{name}[{i}]", item, item_hint) for i, item in enumerate(value)
        )
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return from_json_dict(hint, value)
    if hint is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if hint is int and isinstance(value, bool):
        msg = f"{name} must be an integer"
        raise ConfigError(msg)
    if hint is type(None) and value is None:
        return None
    if isinstance(hint, type) and hint is not type(None) and isinstance(value, hint):
        return value
    msg = f"{name} must be of type {getattr(hint, '__name__', hint)}"
    raise ConfigError(msg)
