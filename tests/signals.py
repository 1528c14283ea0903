"""Run a ``celebalab`` command in a subprocess and stop it with a signal mid-work."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


@dataclass
class Stopped:
    returncode: int
    stderr: str
    seconds: float  # from the signal to the exit


def stop_when(
    args: Sequence[str],
    ready: Callable[[], bool],
    signum: int = signal.SIGTERM,
    timeout: float = 300.0,
    module: str = "celebalab.cli",
) -> Stopped:
    """Run ``python -m MODULE ARGS`` (the ``celebalab`` command by default); once ``ready()``
    holds, send ``signum`` and wait for the exit."""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    command = [sys.executable, "-m", module, *args]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"never ready to be stopped: {process.communicate()[1][-2000:]}")
        time.sleep(0.05)
    process.send_signal(signum)
    sent = time.monotonic()
    _, err = process.communicate(timeout=120)
    return Stopped(process.returncode, err, time.monotonic() - sent)
