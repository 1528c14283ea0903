"""Stopping a command cleanly on Ctrl-C (SIGINT) or SIGTERM (a scheduler's preemption, ``timeout``,
``kill``): within seconds, with its work resumable, one line saying how to resume, exit 130/143.

The CLI runs every command inside :func:`stop_on_signals`: a signal raises :class:`Stopped` in
the main thread, wherever the command is. The long commands write their progress atomically (a
``kill -9`` resumes exactly), so leaving from any point is as safe; ``Stopped`` derives from
``BaseException`` so that no ``except Exception`` on the way (a corrupt-image guard) swallows it.
Lightning's training is the exception: it catches SIGTERM itself and saves checkpoints in the
middle of its loop, so there the signal is only noted (:func:`deferred`) and raised by
:func:`check` at the next batch's end, after a checkpoint. Worker processes forked from the
command ignore SIGINT (their parent stops them) and die on SIGTERM as usual: pools start them
through :func:`worker_pool` / :func:`reset_worker_signals`, which restore the default SIGTERM
whatever handler the parent had at the fork (Lightning's only notes SIGTERM; a worker that
inherits it outlives ``Pool.terminate`` and hangs its parent, as ``make demo`` once did while
packing after a training run).
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.pool
import os
import shlex
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import Any

#: Commands whose work a rerun continues: the option a rerun needs ("" when none).
RESUMABLE: dict[tuple[str, ...], str] = {
    ("train",): "--resume",
    ("gan", "train"): "--resume",
    ("embed", "extract"): "",
    ("explain",): "",
    ("data", "pack"): "",
    ("data", "synth"): "",
}


class Stopped(BaseException):
    """A SIGINT or SIGTERM asked the command to stop."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(signal.Signals(signum).name)

    @property
    def exit_code(self) -> int:
        """The shell's status for a command ended by this signal (130 SIGINT, 143 SIGTERM)."""
        return 128 + self.signum


_state = {"pid": 0, "deferring": 0, "pending": 0}


def _handler(signum: int, _frame: FrameType | None) -> None:
    if os.getpid() != _state["pid"]:  # a forked worker: its parent stops it
        if signum == signal.SIGTERM:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
        return
    if _state["deferring"] and not _state["pending"]:
        _state["pending"] = signum  # raised by check() at the next safe point
        return
    # Also noted: a signal that lands in an os.fork() callback (a pool starting its workers)
    # raises where Python swallows the exception; check() at the next safe point raises it.
    _state["pending"] = signum
    raise Stopped(signum)


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Within: SIGINT and SIGTERM raise :class:`Stopped` (main thread only; else a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    signals = (signal.SIGINT, signal.SIGTERM)
    before = {s: signal.getsignal(s) for s in signals}
    hook = sys.unraisablehook
    _state.update(pid=os.getpid(), deferring=0, pending=0)
    for s in signals:
        signal.signal(s, _handler)
    sys.unraisablehook = _quiet_about_stopped(hook)
    try:
        yield
    finally:
        _state["pending"] = 0
        sys.unraisablehook = hook
        for s, handler in before.items():
            signal.signal(s, handler)


def _quiet_about_stopped(hook: Callable[[Any], object]) -> Callable[[Any], object]:
    """``sys.unraisablehook`` that says nothing of a swallowed :class:`Stopped` (it is noted and
    raised at the next :func:`check`) and passes anything else to ``hook``."""

    def unraisable(info: Any) -> object:
        return None if isinstance(info.exc_value, Stopped) else hook(info)

    return unraisable


@contextmanager
def deferred() -> Iterator[None]:
    """Within: a first signal is only noted, for :func:`check` to raise at a safe point (a
    second one still stops at once). A noted signal is raised on leaving the block."""
    _state["deferring"] += 1
    try:
        yield
    finally:
        _state["deferring"] -= 1
    check()


def requested() -> bool:
    """True when a signal was noted inside :func:`deferred` and not raised yet."""
    return bool(_state["pending"])


def check() -> None:
    """Raise :class:`Stopped` for a signal noted and not raised yet (inside :func:`deferred`,
    or one whose exception Python swallowed); loops call it at safe points."""
    signum, _state["pending"] = _state["pending"], 0
    if signum:
        raise Stopped(signum)


def resume_line(argv: Sequence[str], stop: Stopped) -> str:
    """The one line printed when a command stops: what stopped it and how to go on."""
    said = f"stopped by {signal.Signals(stop.signum).name}"
    words = list(argv)
    for command, option in RESUMABLE.items():
        if tuple(words[: len(command)]) == command:
            if option and option not in words:
                # --resume continues an interrupted --overwrite too (celebalab.rundir)
                words = [w for w in words if w != "--overwrite"] + [option]
            return f"{said}; the work done is kept; to resume, run: celebalab {shlex.join(words)}"
    return said


def reset_worker_signals() -> None:
    """In a worker process: SIGTERM kills it (the default), SIGINT is left to its parent."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def worker_pool(processes: int) -> multiprocessing.pool.Pool:
    """A process pool whose workers :func:`reset_worker_signals` first, so that
    ``Pool.terminate`` always ends them."""
    return multiprocessing.get_context().Pool(processes, initializer=reset_worker_signals)
