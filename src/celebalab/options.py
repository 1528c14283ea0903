"""One config system: every command's options as a typed, validated, frozen dataclass.

Each option is declared once, as a field made with :func:`option`: its default, its help line,
its constraint (:class:`Interval`, :class:`OneOf`, :class:`Names`, :class:`IsBool`, modelled on
scikit-learn's ``_parameter_constraints``), the help panel it is shown in, and whether it is
fixed once a run has started (``fixed=True``: ``--resume`` refuses another value).
:class:`Options` checks every constraint when built (one :class:`ConfigError` naming the option:
``--workers must be >= 0, got -1``), refuses unknown keys (:meth:`Options.from_dict`) and
reads and writes JSON; :mod:`celebalab.cli_options` makes the Typer options from the same
fields, so a command does not repeat names, defaults or help.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from celebalab.errors import OptionError, unknown_name_message

T = TypeVar("T", bound="Options")


class ConfigError(OptionError):
    """An option is out of range, of the wrong type, unknown, or changed on ``--resume``."""


def option(
    default: Any = None,
    *,
    help: str,
    check: Constraint | None = None,
    fixed: bool = False,
    panel: str | None = None,
    flag: str | None = None,
    cli: bool = True,
) -> Any:
    """A dataclass field declaring one option (see the module docstring).

    ``flag`` is the command-line name when it is not ``--`` + the field name with dashes;
    ``cli=False`` keeps the field off the command line (set from an argument, e.g. ``root``).
    """
    meta = {"help": help, "check": check, "fixed": fixed, "panel": panel, "flag": flag, "cli": cli}
    return dataclasses.field(default=default, metadata=meta)


def flag_of(f: dataclasses.Field) -> str:
    """The command-line spelling of option ``f`` (``--batch-size``)."""
    return f.metadata.get("flag") or "--" + f.name.replace("_", "-")


class Constraint:
    """What values an option accepts; :meth:`problem` says why a value is refused."""

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is refused (the message after the option's name), or None."""
        raise NotImplementedError


@dataclass(frozen=True)
class Interval(Constraint):
    """A number ``>= low`` (or ``> low`` when ``strict``), optionally ``<= high`` (or ``<``)."""

    kind: type
    low: float | None = None
    high: float | None = None
    strict: bool = False
    strict_high: bool = False

    def problem(self, value: Any) -> str | None:
        """Why ``value`` does not satisfy the constraint, or None."""
        if self.kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            return f"must be an integer, got {value!r}"
        if not isinstance(value, int | float) or isinstance(value, bool):
            return f"must be a number, got {value!r}"
        if self.low is not None:
            if self.strict and not value > self.low:
                return f"must be > {self.low:g}, got {value!r}"
            if not self.strict and not value >= self.low:
                return f"must be >= {self.low:g}, got {value!r}"
        if self.high is not None:
            if self.strict_high and not value < self.high:
                return f"must be < {self.high:g}, got {value!r}"
            if not self.strict_high and not value <= self.high:
                return f"must be <= {self.high:g}, got {value!r}"
        return None


#: A share strictly between 0 and 1.
FRACTION = Interval(float, 0, 1, strict=True, strict_high=True)


@dataclass(frozen=True)
class OneOf(Constraint):
    """One of a fixed set of values."""

    choices: tuple[Any, ...]

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is not one of the choices, or None."""
        if value in self.choices:
            return None
        return f"must be one of {', '.join(map(str, self.choices))}, not {value!r}"


@dataclass(frozen=True)
class Names(Constraint):
    """A name (or a tuple of distinct names) from ``choices``; a typo gets the closest ones."""

    what: str
    choices: tuple[str, ...]

    def problem(self, value: Any) -> str | None:
        """Why a name is unknown (with a suggestion), or a repeat; None when all are known."""
        names = (value,) if isinstance(value, str) else tuple(value)
        for name in names:
            if name not in self.choices:
                hint = unknown_name_message(self.what, str(name), self.choices).partition(";")[2]
                known = f"one of {', '.join(self.choices)}" if not hint else f"a known {self.what}"
                return f"must be {known}, not {name!r}" + (f";{hint}" if hint else "")
        if len(set(names)) != len(names):
            return f"must not repeat a name, got {','.join(names)}"
        return None


@dataclass(frozen=True)
class IsBool(Constraint):
    """A boolean flag."""

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is not a bool, or None."""
        return None if isinstance(value, bool) else f"must be true or false, got {value!r}"


@dataclass(frozen=True, kw_only=True)
class Options:
    """Base of every command's options: subclasses are frozen, keyword-only dataclasses whose
    fields are made with :func:`option` (``None`` values, "choose for me", are not checked)."""

    #: What these options configure, for messages ("unknown training option(s) …").
    WHAT: ClassVar[str] = "command"

    def __post_init__(self) -> None:
        for f in fields(self):
            check, value = f.metadata.get("check"), getattr(self, f.name)
            problem = None if check is None or value is None else check.problem(value)
            if problem:
                raise ConfigError(f"{flag_of(f)} {problem}")
        self.check()

    def check(self) -> None:
        """Rules that span options (a subclass overrides it); raise :class:`ConfigError`."""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict in field order (tuples as lists)."""
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls: type[T], values: Mapping[str, Any], source: str | Path = "options") -> T:
        """Build from a saved dict; an unknown key is an error naming ``source``."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ConfigError(f"{source}: unknown {cls.WHAT} option(s) {', '.join(unknown)}")
        return cls(**{k: _typed(cls, k, v, source) for k, v in values.items()})

    def replace(self: T, **changes: Any) -> T:
        """A validated copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def load(cls: type[T], path: str | Path) -> T:
        """Read options saved by :meth:`save`."""
        path = Path(path)
        try:
            values = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise ConfigError(f"{path}: unreadable options file ({err})") from None
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: options file is not a JSON object")
        return cls.from_dict(values, path)

    def save(self, path: str | Path) -> Path:
        """Write the options atomically as JSON."""
        from celebalab.io import write_json_atomic

        return write_json_atomic(path, self.to_dict())

    @classmethod
    def fixed_on_resume(cls) -> tuple[str, ...]:
        """Options that define the experiment: a resumed run must keep them."""
        return tuple(f.name for f in fields(cls) if f.metadata.get("fixed"))

    def differences(self, other: Options, names: Sequence[str] | None = None) -> list[str]:
        """Options (``names``, default: the fixed ones) whose values differ from ``other``'s."""
        names = self.fixed_on_resume() if names is None else names
        return [n for n in names if getattr(self, n) != getattr(other, n)]


def _typed(cls: type, name: str, value: Any, source: str | Path) -> Any:
    """A saved value as field ``name`` holds it: lists become tuples, dicts nested options."""
    if value is None:
        return None
    hint = typing.get_type_hints(cls)[name]
    arms = typing.get_args(hint) if typing.get_origin(hint) is not tuple else ()
    for arm in (hint, *arms):
        if typing.get_origin(arm) is tuple:
            return tuple(value)
        if isinstance(arm, type) and issubclass(arm, Options) and isinstance(value, Mapping):
            return arm.from_dict(value, source)
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, Options):
        return value.to_dict()
    return list(value) if isinstance(value, tuple) else value
