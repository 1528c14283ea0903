"""Help pages in the style of familiar command-line tools.

Typer prints a type placeholder such as ``<str>`` or ``<bool>`` beside every option and writes a
required argument as ``{root}`` in the usage line. :func:`install` makes them read as click and
most Unix tools do: ``--out PATH``, ``--n INTEGER``, flags without a type, ``Usage: … RUN ROOT``.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from typing import Any

from typer.core import TyperArgument, TyperOption
from typer.models import ParameterInfo

C = typing.TypeVar("C", bound=Callable[..., Any])

_TYPE_NAMES = {"str": "TEXT", "int": "INTEGER", "float": "FLOAT", "list[str]": "TEXT"}


def _display_type(self: Any, ctx: Any) -> str | None:
    """``PATH``, ``TEXT``, ``INTEGER``… (or the option's own metavar); nothing for a flag."""
    if self.metavar is not None:
        return self.metavar
    if getattr(self, "is_flag", False):
        return None
    label = self.display_type(ctx).strip("<>")
    return _TYPE_NAMES.get(label, label.upper())


def _usage_name(self: Any) -> str:
    """``ROOT`` for a required argument, ``[ROOT]`` for an optional one, ``…`` when repeated."""
    name = self.display_name_raw.upper()
    name = name if self.required else f"[{name}]"
    return name + ("..." if self.nargs != 1 else "")


def install() -> None:
    """Apply the plain placeholders to every Typer command of this process."""
    TyperOption.display_type_rich = _display_type
    TyperArgument.display_type_rich = _display_type
    TyperArgument._usage_display_name = _usage_name


def example(line: str) -> str:
    """The epilog of a command's help page: one line a user can paste."""
    return f"Example: `{line}`"


def grouped(groups: dict[str, str]) -> Callable[[C], C]:
    """Decorator showing a command's options in panels (Typer's ``rich_help_panel``).

    ``groups`` maps a panel title (Data, Model, Output, Speed, …) to the space-separated
    parameter names shown under it; the others stay under "Options".
    """

    def apply(function: C) -> C:
        hints = typing.get_type_hints(function, include_extras=True)
        function.__annotations__.update(hints)  # evaluated once, so the panels below stick
        for panel, names in groups.items():
            for name in names.split():
                info = next(m for m in hints[name].__metadata__ if isinstance(m, ParameterInfo))
                info.rich_help_panel = panel
        return function

    return apply
