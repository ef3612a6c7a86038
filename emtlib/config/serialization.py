"""Typed conversion for the config dataclasses: to/from JSON-safe dicts and from command-line text.

`Serializable.to_dict()` gives a plain nested dict; `from_dict` (and `parse_text` for `--set`
values) converts values back to each field's annotated type, raising a ValueError that names the
field, the expected type and the value found.
"""
from __future__ import annotations

import dataclasses
import json
import types
import typing
from typing import Any


class Serializable:
    """to_dict / from_dict for every config dataclass (JSON-safe, lossless)."""

    def to_dict(self) -> dict:
        """Plain nested dict (JSON-safe; tuples become lists)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls, d: dict):
        """Inverse of `to_dict`; unknown keys raise a ValueError naming the valid ones."""
        return from_dict(cls, d)


def field_types(cls) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def is_union(tp) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def coerce(value: Any, tp: Any, where: str) -> Any:
    """Convert a JSON value (or Python value) to the field type `tp`."""
    if tp is Any:  # ExperimentConfig.baseline: typed by its method in __post_init__
        return value
    if is_union(tp):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return coerce(value, a, where)
            except (TypeError, ValueError) as e:
                errors.append(str(e))
        raise ValueError(f"{where}: cannot read {value!r} as {tp}: {'; '.join(errors)}")
    origin = typing.get_origin(tp)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{where}: expected a sequence for {tp}, found {value!r}")
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(coerce(v, args[0], where) for v in value)
        if len(args) != len(value):
            raise ValueError(f"{where}: expected {len(args)} items for {tp}, found {len(value)}")
        return tuple(coerce(v, a, where) for v, a in zip(value, args))
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ValueError(f"{where}: expected a dict for {tp.__name__}, found {value!r}")
        return from_dict(tp, value, where)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ValueError(f"{where}: expected a bool, found {value!r}")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ValueError(f"{where}: expected an int, found {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{where}: expected a float, found {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ValueError(f"{where}: expected a str, found {value!r}")
        return value
    raise TypeError(f"{where}: unsupported field type {tp}")


def from_dict(cls, d: dict, where: str = "") -> Any:
    hints = field_types(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(d) - set(names))
    if unknown:
        raise ValueError(f"unknown key(s) {unknown} in {where or cls.__name__}: valid keys are {names}")
    kwargs = {k: coerce(v, hints[k], f"{where}.{k}" if where else k) for k, v in d.items()}
    return cls(**kwargs)


def parse_text(text: str, tp: Any, where: str) -> Any:
    """Read a command-line string as the field type `tp`."""
    s = text.strip()
    if is_union(tp):
        args = typing.get_args(tp)
        if s.lower() in ("none", "null") and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return parse_text(s, a, where)
            except ValueError as e:
                errors.append(str(e))
        raise ValueError(f"{where}: cannot read {text!r} as {tp}")
    if typing.get_origin(tp) is tuple:
        inner = s
        if inner[:1] in "([" and inner[-1:] in ")]":
            inner = inner[1:-1]
        items = [p for p in (x.strip() for x in inner.split(",")) if p != ""]
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(parse_text(p, args[0], where) for p in items)
        if len(items) != len(args):
            raise ValueError(f"{where}: expected {len(args)} comma-separated values, found {text!r}")
        return tuple(parse_text(p, a, where) for p, a in zip(items, args))
    if tp is bool:
        low = s.lower()
        if low in ("true", "1", "yes", "on"):
            return True
        if low in ("false", "0", "no", "off"):
            return False
        raise ValueError(f"{where}: expected a bool (true/false), found {text!r}")
    if tp is int:
        try:
            return int(s)
        except ValueError:
            try:
                f = float(s)
            except ValueError:
                f = None
            if f is not None and f.is_integer():
                return int(f)
            raise ValueError(f"{where}: expected an int, found {text!r}") from None
    if tp is float:
        try:
            return float(s)
        except ValueError:
            raise ValueError(f"{where}: expected a float, found {text!r}") from None
    if tp is str:
        if len(s) >= 2 and s[0] == s[-1] and s[0] in "'\"":
            return s[1:-1]
        return s
    raise ValueError(f"{where}: cannot override a field of type {tp}")

