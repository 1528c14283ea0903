"""Progress of long work: lines through :mod:`logging`, bars through tqdm, switched in one place.

Library code takes no ``progress`` argument. It says what it is doing on a logger under
``celebalab`` (``logging.getLogger(__name__).info("resuming …")``) and wraps long loops in
:func:`bar`. Whether either shows is decided here, for the whole process:

- the ``celebalab`` logger's level: INFO shows progress lines and bars, WARNING hides both. A
  library user who configured no logging sees neither (Python shows no INFO by default);
  ``logging.basicConfig(level=logging.INFO)`` shows both,
  ``logging.getLogger("celebalab").setLevel(logging.WARNING)`` hides them again;
- bars may be turned off while lines stay (``configure(True, bars=False)``: the demo's logs,
  training then prints one line per epoch instead of a bar);
- only the outermost celebalab bar draws: a loop inside one that already shows (a unit's
  batches inside an extraction's bar) stays quiet.

The CLI calls :func:`configure` once per command (``celebalab.cli.main``, and each
``--progress/--no-progress`` flag through :data:`celebalab.cli_options.Progress`): a handler
printing the lines on stderr (through ``tqdm.write``, so a bar is not broken), and the level.
Warnings and notes (``note: …``) are not progress: they show whatever the setting.
"""

from __future__ import annotations

import functools
import logging
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

LOGGER = logging.getLogger("celebalab")
F = TypeVar("F", bound=Callable[..., Any])
_state = {"bars": True}


class _StderrLines(logging.Handler):
    """One message a line on the current ``sys.stderr``, above any bar being drawn."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            from tqdm import tqdm

            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:  # logging must never break the work it reports on
            self.handleError(record)


_HANDLER = _StderrLines()
_HANDLER.setFormatter(logging.Formatter("%(message)s"))


def showing() -> bool:
    """Whether progress lines show (the ``celebalab`` logger is enabled for INFO)."""
    return LOGGER.isEnabledFor(logging.INFO)


def bars_shown() -> bool:
    """Whether progress bars show: lines show and bars were not turned off."""
    return _state["bars"] and showing()


def bar(iterable: Iterable[Any] | None = None, **kwargs: Any) -> Any:
    """A tqdm bar on stderr, drawn when :func:`bars_shown` and no other bar is drawing."""
    from tqdm.auto import tqdm

    drawing = any(not getattr(b, "disable", True) for b in list(getattr(tqdm, "_instances", ())))
    kwargs.setdefault("file", sys.stderr)
    return tqdm(iterable, disable=drawing or not bars_shown(), **kwargs)


def configure(show: bool, *, bars: bool = True) -> Callable[[], None]:
    """Show progress (lines on stderr, and bars unless ``bars`` is False) or hide it, for the
    whole process; returns the function that puts the previous setting back."""
    before = (LOGGER.level, LOGGER.propagate, _HANDLER in LOGGER.handlers, _state["bars"])
    if _HANDLER not in LOGGER.handlers:
        LOGGER.addHandler(_HANDLER)
    LOGGER.propagate = False  # no second copy through a root handler the caller configured
    LOGGER.setLevel(logging.INFO if show else logging.WARNING)
    _state["bars"] = bars

    def undo() -> None:
        level, propagate, had_handler, old_bars = before
        LOGGER.setLevel(level)
        LOGGER.propagate = propagate
        if not had_handler:
            LOGGER.removeHandler(_HANDLER)
        _state["bars"] = old_bars

    return undo


@contextmanager
def shown(show: bool, *, bars: bool = True) -> Iterator[None]:
    """:func:`configure` for the duration of a ``with`` block."""
    undo = configure(show, bars=bars)
    try:
        yield
    finally:
        undo()


def legacy_progress(function: F) -> F:
    """Let a public function still take the ``progress=`` it took before, for one release: it
    warns and applies the value around the call (``"epochs"``: lines without bars)."""

    @functools.wraps(function)
    def wrapper(*args: Any, progress: bool | str | None = None, **kwargs: Any) -> Any:
        if progress is None:
            return function(*args, **kwargs)
        warnings.warn(
            f"{function.__qualname__}(progress=…) is deprecated and will be removed: progress "
            "follows the 'celebalab' logger's level (see celebalab._progress)",
            DeprecationWarning,
            stacklevel=2,
        )
        with shown(progress is not False, bars=progress is True):
            return function(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
