"""A process pool for dlib's work: its Python bindings hold the GIL, so threads do not help.

dlib's detector, landmark predictor and ResNet descriptor run single-threaded C++ without
releasing the GIL (two threads measured no faster than one), so celebalab spreads them over
processes. One pool per process, started on first use with the ``spawn`` method (a forked
torch process can deadlock in its thread pools); each worker loads dlib's files once.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

_pools: dict[int, ProcessPoolExecutor] = {}
logger = logging.getLogger(__name__)


def default_processes() -> int:
    """Worker processes when none is asked for: the CPUs this process may use (at most 8)."""
    return max(1, min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                      else os.cpu_count() or 1))  # fmt: skip


def map_chunks(
    func: Callable[[Sequence[T]], list[R]], items: Sequence[T], processes: int | None = None
) -> list[R]:
    """``func`` over ``items`` cut into one chunk per process, results in order.

    ``func`` must be a module-level function (it is pickled by name). One process, or fewer
    than two items, runs in this process.
    """
    count = default_processes() if processes is None else processes
    if count <= 1 or len(items) < 2:
        return func(items)
    chunks = [items[i::count] for i in range(count) if items[i::count]]
    try:
        results = list(_pool(count).map(func, chunks))
    except BrokenProcessPool:
        _pools.pop(count).shutdown(wait=False, cancel_futures=True)
        logger.warning(
            'worker processes could not start (a script without `if __name__ == "__main__":`?); '
            "dlib's work runs in this process"
        )
        return func(items)
    out: list[Any] = [None] * len(items)
    for start, result in enumerate(results):
        out[start::count] = result
    return out


def _pool(count: int) -> ProcessPoolExecutor:
    if count not in _pools:
        context = multiprocessing.get_context("spawn")
        _pools[count] = ProcessPoolExecutor(count, mp_context=context)
    return _pools[count]


@atexit.register
def _shutdown() -> None:
    for pool in _pools.values():
        pool.shutdown(wait=False, cancel_futures=True)
    _pools.clear()
