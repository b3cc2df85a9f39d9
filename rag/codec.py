"""The JSON form of the answering types (``Turn``, ``Answer``, ``Citation``, …), for the shared state store.

Explicit and typed: a frozen dataclass becomes an object of its fields, an enum its value, a tuple a list; reading
builds exactly the declared types from the dataclass's annotations (``X | None``, ``tuple[X, ...]``, nested
dataclasses, enums, str/int/float/bool) and nothing else — never pickle, so a value another process (or another
version) wrote cannot run code here. A field added since a value was written takes its default; a field that
is gone is ignored; anything else that does not fit is ``CodecError`` (the caller treats the value as absent).
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from enum import Enum
from functools import cache
from typing import Any, TypeVar, Union

T = TypeVar("T")


class CodecError(ValueError):
    """A stored value that does not read as the type asked for."""


def dumps(value: object) -> str:
    return json.dumps(_plain(value), ensure_ascii=False, separators=(",", ":"))


def loads(cls: type[T], text: str) -> T:
    try:
        data = json.loads(text)
    except ValueError as e:
        raise CodecError(f"not JSON: {e}") from e
    return typing.cast(T, _build(cls, data))


def _plain(value: object) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise CodecError(f"no JSON form for {type(value).__name__}")


@cache
def _fields(cls: type) -> tuple[tuple[str, Any, bool], ...]:
    """(name, type, has a default) of each init field of a dataclass."""
    hints = typing.get_type_hints(cls)
    missing = dataclasses.MISSING
    return tuple(
        (f.name, hints[f.name], f.default is not missing or f.default_factory is not missing)
        for f in dataclasses.fields(cls)
        if f.init
    )


def _build(tp: Any, data: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        options = typing.get_args(tp)
        if data is None and type(None) in options:
            return None
        for option in (o for o in options if o is not type(None)):
            try:
                return _build(option, data)
            except CodecError:
                continue
        raise CodecError(f"{data!r} is none of {tp}")
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(data, list) or len(args) != 2 or args[1] is not Ellipsis:
            raise CodecError(f"expected a list for {tp}")
        return tuple(_build(args[0], v) for v in data)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(data, dict):
            raise CodecError(f"expected an object for {tp.__name__}")
        values = {}
        for name, field_type, has_default in _fields(tp):
            if name in data:
                values[name] = _build(field_type, data[name])
            elif not has_default:
                raise CodecError(f"{tp.__name__}.{name} is missing")
        return tp(**values)
    if isinstance(tp, type) and issubclass(tp, Enum):
        try:
            return tp(data)
        except ValueError as e:
            raise CodecError(str(e)) from e
    if tp is float and isinstance(data, int | float) and not isinstance(data, bool):
        return float(data)
    if tp in (str, int, bool) and type(data) is tp:
        return data
    raise CodecError(f"{data!r} is not a {getattr(tp, '__name__', tp)}")
