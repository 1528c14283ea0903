"""Run records: the JSON files of a run folder as typed, frozen dataclasses.

Why: ``run.json``, ``manifest.json`` and ``results.json`` used to travel as nested dicts that
every reader dug into by string keys. A :class:`Record` subclass declares the shape once;
``from_json`` reads a file of that shape (older ones included: a missing optional key takes its
default, a key the record does not declare is kept in ``extra`` and written back) and
``to_json`` writes it. Field types drive the conversion: a nested record (or ``record | None``)
is read with its own ``from_json``, a config (a dataclass with ``from_dict``/``to_dict``, see
:mod:`celebalab.options`) with ``from_dict``, tuples are written as lists, anything else is kept
as is.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from celebalab.errors import DataFormatError

R = TypeVar("R", bound="Record")
#: Field metadata of a key left out of the JSON while it is None (keys older files lack):
#: ``alignment: dict | None = field(default=None, metadata=OMIT_NONE)``.
OMIT_NONE: Mapping[str, bool] = types.MappingProxyType({"omit_none": True})
#: Field metadata of a value kept beside the record but never written (pictures, tables):
#: ``pictures: dict = field(default_factory=dict, metadata=NOT_WRITTEN)``.
NOT_WRITTEN: Mapping[str, bool] = types.MappingProxyType({"not_written": True})


@dataclasses.dataclass(frozen=True, kw_only=True)
class Record:
    """Base of every run record (see the module docstring); subclasses are frozen dataclasses."""

    #: Keys of the file this record does not declare, kept so that they are written back.
    extra: dict[str, Any] = dataclasses.field(default_factory=dict, repr=False)

    def to_json(self) -> dict[str, Any]:
        """The JSON object (plain dicts, lists and numbers) of this record."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            skip = f.metadata.get("not_written") or (value is None and f.metadata.get("omit_none"))
            if f.name == "extra" or skip:
                continue
            out[f.name] = _plain(value)
        return {**out, **_plain(self.extra)}

    @classmethod
    def from_json(cls: type[R], data: Mapping[str, Any], source: str | Path = "record") -> R:
        """Read ``data`` (a parsed JSON object); a missing required key names ``source``."""
        hints = _hints(cls)
        names = {f.name for f in dataclasses.fields(cls) if not f.metadata.get("not_written")}
        names.discard("extra")
        required = [f.name for f in dataclasses.fields(cls) if _required(f)]
        missing = [name for name in required if name not in data]
        if missing:
            raise DataFormatError(source, f"lacks required keys {missing}")
        values = {k: _typed(hints[k], v, source) for k, v in data.items() if k in names}
        extra = {k: v for k, v in data.items() if k not in names}
        return cls(**values, extra=extra)


def _required(f: dataclasses.Field) -> bool:
    missing = dataclasses.MISSING
    return f.default is missing and f.default_factory is missing  # type: ignore[misc]


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _typed(hint: Any, value: Any, source: str | Path) -> Any:
    """``value`` of a JSON object converted to the field type ``hint``."""
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        for arm in typing.get_args(hint):
            if arm is not type(None):
                return _typed(arm, value, source)
    if isinstance(hint, type) and isinstance(value, Mapping):
        if issubclass(hint, Record):
            return hint.from_json(value, source)
        if hasattr(hint, "from_dict"):
            return hint.from_dict(value, source)
    if origin is tuple and isinstance(value, list):
        return tuple(value)
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, Record):
        return value.to_json()
    if dataclasses.is_dataclass(value) and hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
