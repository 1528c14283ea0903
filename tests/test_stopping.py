"""celebalab.stopping: signals become ``Stopped`` (at once, or at a safe point when deferred)."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import types

import pytest

from celebalab import stopping


def test_a_signal_raises_stopped_with_the_shell_status() -> None:
    with pytest.raises(stopping.Stopped) as stop, stopping.stop_on_signals():
        os.kill(os.getpid(), signal.SIGTERM)
    assert stop.value.exit_code == 143
    assert stopping.Stopped(signal.SIGINT).exit_code == 130
    assert not issubclass(stopping.Stopped, Exception)  # no `except Exception` swallows it


def test_deferred_signal_waits_for_a_check_and_a_second_one_stops_at_once() -> None:
    with stopping.stop_on_signals():
        with pytest.raises(stopping.Stopped), stopping.deferred():
            os.kill(os.getpid(), signal.SIGINT)
            assert stopping.requested()
            stopping.check()
        with pytest.raises(stopping.Stopped), stopping.deferred():
            os.kill(os.getpid(), signal.SIGTERM)
            os.kill(os.getpid(), signal.SIGTERM)
            pytest.fail("the second signal did not stop")
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


@pytest.mark.parametrize(
    ("argv", "resume"),
    [
        (["train", "R", "--out", "o"], "celebalab train R --out o --resume"),
        (["train", "R", "--out", "o", "--resume"], "celebalab train R --out o --resume"),
        (["train", "R", "--out", "o", "--overwrite"], "celebalab train R --out o --resume"),
        (["explain", "R", "--out", "o", "--overwrite"], "celebalab explain R --out o --overwrite"),
        (["gan", "train", "R", "--out", "o"], "celebalab gan train R --out o --resume"),
        (["embed", "extract", "RUN", "--out", "a b"], "celebalab embed extract RUN --out 'a b'"),
        (["explain", "RUN", "--out", "o"], "celebalab explain RUN --out o"),
        (["data", "pack", "R"], "celebalab data pack R"),
        (["data", "synth", "o"], "celebalab data synth o"),
    ],
)
def test_resume_line_names_the_command_to_rerun(argv: list[str], resume: str) -> None:
    line = stopping.resume_line(argv, stopping.Stopped(signal.SIGTERM))
    assert line == f"stopped by SIGTERM; the work done is kept; to resume, run: {resume}"
    stats = stopping.resume_line(["stats", "R"], stopping.Stopped(signal.SIGINT))
    assert stats == "stopped by SIGINT"


_POOL_CHECK = """
import signal, sys, time
from celebalab import stopping

noted = []
signal.signal(signal.SIGTERM, lambda signum, frame: noted.append(signum))  # notes, as Lightning's
make = stopping.worker_pool if sys.argv[1] == "worker_pool" else __import__("multiprocessing").Pool


def default_sigterm():
    return signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


if __name__ == "__main__":
    pool = make(2)
    print(pool.apply(default_sigterm), flush=True)
    busy = pool.apply_async(time.sleep, (600,))
    time.sleep(0.5)
    pool.terminate()  # SIGTERM to each worker, then join
    print("terminated", flush=True)
"""


@pytest.mark.parametrize("factory", ["worker_pool", "plain"])
def test_pool_workers_die_on_terminate_whatever_the_parent_handles(tmp_path, factory):
    """A parent that only notes SIGTERM (Lightning's handler) does not make its pool's workers
    immortal: ``worker_pool``'s terminate returns; a plain fork pool's hangs (the control)."""
    import subprocess
    import sys

    script = tmp_path / "pool_check.py"
    script.write_text(_POOL_CHECK)
    command = [sys.executable, str(script), factory]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)  # fmt: skip
    try:
        out, err = process.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # the script and its workers
        process.communicate()
        assert factory == "plain", "worker_pool's terminate hung"
        return
    assert factory == "worker_pool", f"the plain pool did not hang: the test shows nothing {err}"
    assert out.split() == ["True", "terminated"], err


def test_a_swallowed_signal_is_raised_at_the_next_check(capsys):
    """A signal whose ``Stopped`` Python swallows (it landed in an ``os.fork()`` callback while a
    pool started) still stops the command at the next safe point; leaving the block forgets it."""
    with stopping.stop_on_signals():
        with contextlib.suppress(stopping.Stopped):  # what an at-fork callback does with it
            os.kill(os.getpid(), signal.SIGTERM)
        with pytest.raises(stopping.Stopped):
            stopping.check()
        stopping.check()  # raised once, not again
        swallowed = types.SimpleNamespace(exc_value=stopping.Stopped(signal.SIGTERM))
        sys.unraisablehook(swallowed)  # Python's report of it: nothing printed
        assert capsys.readouterr().err == ""
        with contextlib.suppress(stopping.Stopped):
            os.kill(os.getpid(), signal.SIGINT)
    stopping.check()  # nothing pending outside the block
