"""The one error hierarchy: user-facing errors name the file, the line (when there is one), the
problem and, where one helps, the next step. The CLI prints them as one line, never a traceback."""

from __future__ import annotations

from pathlib import Path


class CelebalabError(Exception):
    """Base class for user-facing errors; the CLI prints these as one line, without a traceback."""


class DataFormatError(CelebalabError):
    """A dataset file does not have the published format."""

    def __init__(self, path: str | Path, problem: str, line: int | None = None) -> None:
        self.path = Path(path)
        self.line = line
        self.problem = problem
        where = f"{self.path}:{line}" if line is not None else str(self.path)
        super().__init__(f"{where}: {problem}")


class DatasetLayoutError(CelebalabError):
    """A folder is not a dataset celebalab can read (wrong folder, zip not extracted, …)."""


class OptionError(CelebalabError):
    """A command-line option (or the library parameter behind it) has a value it cannot take."""


def check_at_least(option: str, value: int | None, minimum: int, meaning: str = "") -> None:
    """Refuse ``value < minimum`` for ``option`` (None, the option's default, passes).

    ``meaning`` says what the value counts, for the message (``"processes"``, ``"rows"``).
    """
    if value is not None and value < minimum:
        what = f" {meaning}" if meaning else ""
        raise OptionError(f"{option} must be at least {minimum}{what}, not {value}")


def unknown_name_message(kind: str, name: str, choices: tuple[str, ...] | list[str]) -> str:
    """A one-line error for an unknown name that suggests the closest valid ones."""
    import difflib

    close = difflib.get_close_matches(name, choices, n=3, cutoff=0.5)
    lowered = {c.lower(): c for c in choices}
    if name.lower() in lowered:
        close = [lowered[name.lower()], *[c for c in close if c != lowered[name.lower()]]]
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return f"unknown {kind} {name!r}{hint}"
