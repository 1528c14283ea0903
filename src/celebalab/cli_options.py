"""Typer options made from an options dataclass (:mod:`celebalab.options`), Lightning-CLI style.

A command declares its own arguments (ROOT, ``--out``, ``--resume`` …) and one parameter
``options``; :func:`with_options` adds one ``--flag`` per field of the dataclass (name, help,
choices and default shown, help panel, ``--x/--no-x`` for booleans, comma-separated text or
``none`` for tuples) and
calls the command with ``options``: the values given on the command line, by field name
(absent ones are left out, so ``--resume`` can tell "not given" from "given as the default").
A field holding nested options (``ExplainConfig.attribution``) adds its own fields, under the
flags their metadata names, and passes them as a nested dict (``Options.from_dict`` reads it);
fields sharing one flag are set together. ``Progress`` is the one ``--progress/--no-progress``.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from dataclasses import MISSING, Field, fields
from typing import Annotated, Any

import typer

from celebalab import _progress
from celebalab.errors import OptionError
from celebalab.options import Names, Options, flag_of

C = typing.TypeVar("C", bound=Callable[..., Any])


def _apply_progress(ctx: typer.Context, value: bool) -> bool:
    """Show or hide progress for the command's duration (:func:`celebalab._progress.configure`)."""
    ctx.call_on_close(_progress.configure(value))
    return value


#: A command's ``--progress/--no-progress``: declare ``progress: Progress = True``; the flag
#: switches bars and progress lines for the whole command, so nothing passes it on.
Progress = Annotated[
    bool,
    typer.Option(
        "--progress/--no-progress",
        help="Progress bars and lines on stderr.",
        callback=_apply_progress,
        rich_help_panel="Output",
    ),
]


def with_options(config: type[Options]) -> Callable[[C], C]:
    """Decorator adding ``config``'s fields as options of a Typer command (module docstring)."""

    def apply(function: C) -> C:
        signature = inspect.signature(function)
        hints = typing.get_type_hints(function, include_extras=True)
        own = [p.replace(annotation=hints[name]) for name, p in signature.parameters.items()
               if name != "options"]  # fmt: skip
        annotations = {p.name: p.annotation for p in own}
        flags = _flags(config)
        added = []
        for name, ((_, f, hint), *_) in flags.items():
            annotations[name] = Annotated[_cli_type(hint) | None, _typer_option(f, hint)]
            added.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None,
                                           annotation=annotations[name]))  # fmt: skip

        def command(**values: Any) -> Any:
            given: dict[str, Any] = {}
            for name, shared in flags.items():
                if values.get(name) is None:
                    continue
                value = _parsed(shared[0][1], shared[0][2], values[name])
                for path, _, _ in shared:
                    _put(given, path, value)
            return function(**{p.name: values[p.name] for p in own}, options=given)

        command.__name__, command.__doc__ = function.__name__, function.__doc__
        command.__signature__ = signature.replace(parameters=[*own, *added])  # type: ignore[attr-defined]
        command.__annotations__ = annotations
        return command  # type: ignore[return-value]

    return apply


_Leaf = tuple[tuple[str, ...], Field, Any]


def _flags(config: type[Options]) -> dict[str, list[_Leaf]]:
    """The command-line fields of ``config`` by parameter name: the fields of nested options
    (a field whose type is an :class:`Options`) too; fields that share a flag (explain's
    ``--seed``, also the falsification test's) are one option setting all of them."""
    by_flag: dict[str, list[_Leaf]] = {}
    for leaf in _leaves(config, ()):
        by_flag.setdefault(flag_of(leaf[1]), []).append(leaf)
    return {"__".join(leaves[0][0]): leaves for leaves in by_flag.values()}


def _leaves(config: type[Options], prefix: tuple[str, ...]) -> list[_Leaf]:
    hints = typing.get_type_hints(config)
    found: list[_Leaf] = []
    for f in fields(config):
        hint = hints[f.name]
        if isinstance(hint, type) and issubclass(hint, Options):
            found += _leaves(hint, (*prefix, f.name))
        elif f.metadata.get("cli", True):
            found.append(((*prefix, f.name), f, hint))
    return found


def _put(given: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    """``given[path[0]][path[1]]… = value`` (nested options as nested dicts, as ``from_dict``
    reads them)."""
    for key in path[:-1]:
        given = given.setdefault(key, {})
    given[path[-1]] = value


def _cli_type(hint: Any) -> type:
    """What the command line reads for a field of type ``hint``: bool, int, float or text."""
    arms = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
    if len(arms) == 1 and arms[0] in (bool, int, float):
        return arms[0]
    return str  # text, several types (devices: "2" or "0,1") and comma-separated tuples


def _typer_option(f: Field, hint: Any) -> Any:
    flag, is_bool = flag_of(f), _cli_type(hint) is bool
    decls = [f"{flag}/--no-{flag[2:]}"] if is_bool else [flag]
    default = ("" if f.default else "no-") + flag[2:] if is_bool else f.default
    check = f.metadata.get("check")
    choices = getattr(check, "choices", ())
    many = 12 if isinstance(check, Names) else 8  # a list of names: say every name it may hold
    listed = f" One of: {', '.join(map(str, choices))}." if 0 < len(choices) <= many else ""
    if isinstance(default, tuple):  # as typed: comma-separated; every name is "all"
        default = "all" if default and default == tuple(choices) else ",".join(map(str, default))
    shown = f" [default: {default}]" if f.default not in (None, MISSING, (), "") else ""
    return typer.Option(
        *decls,
        help=f.metadata.get("help", "") + listed + shown,
        rich_help_panel=f.metadata.get("panel"),
        show_default=False,
    )


def _parsed(f: Field, hint: Any, value: Any) -> Any:
    """A tuple field's comma-separated text as a tuple (of numbers for ``tuple[float, ...]``);
    ``none`` is the empty tuple, an empty text is refused (``--conditional ''`` must not quietly
    mean "none")."""
    tuples = [a for a in (hint, *typing.get_args(hint)) if typing.get_origin(a) is tuple]
    if not tuples:
        return value
    if str(value).strip().lower() == "none":
        return ()
    names = tuple(n.strip() for n in str(value).split(",") if n.strip())
    if not names:
        raise OptionError(f"{flag_of(f)} {value!r}: no name given; leave the option out instead")
    if typing.get_args(tuples[0])[:1] == (float,):
        try:
            return tuple(float(n) for n in names)
        except ValueError:
            raise OptionError(
                f"{flag_of(f)} takes numbers separated by commas, not {value!r}"
            ) from None
    return names
