"""Disk cache of projections and clusterings, keyed by the data fingerprint and the parameters.

A projection of 202,599 faces takes minutes; the explorer computes each (source, step,
parameters) once, stores the array as ``.npy`` (written atomically, so a killed computation
leaves nothing half-written) and afterwards only reads it — with ``mmap`` the read is instant.
An in-memory copy of the most recent results makes repeated callbacks free.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from celebalab.io import atomic_path

_MEMORY_ITEMS = 32


def cache_key(fingerprint: str, step: str, params: Mapping[str, Any]) -> str:
    """A stable file-name-safe key for one result: ``step-<sha1 of fingerprint + params>``."""
    blob = json.dumps({"fp": fingerprint, "step": step, "params": dict(params)}, sort_keys=True)
    return f"{step}-{hashlib.sha1(blob.encode()).hexdigest()[:20]}"


class ResultCache:
    """Arrays computed once per key, kept on disk under ``root`` and the latest ones in memory."""

    def __init__(self, *, root: str | Path) -> None:
        self.root = Path(root)
        self._memory: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()  # the Dash server answers callbacks from several threads
        self._computing: dict[str, threading.Lock] = {}

    def path(self, key: str) -> Path:
        """Where the array of ``key`` lives on disk."""
        return self.root / f"{key}.npy"

    def get(self, key: str) -> np.ndarray | None:
        """The cached array of ``key`` (memory, then disk), or None when it was never computed."""
        with self._lock:
            if key in self._memory:
                self._memory.move_to_end(key)
                return self._memory[key]
        path = self.path(key)
        if not path.exists():
            return None
        value = np.load(path, mmap_mode="r", allow_pickle=False)
        self._remember(key, value)
        return value

    def get_or_compute(self, key: str, compute: Callable[[], np.ndarray]) -> np.ndarray:
        """The array of ``key``; computed by ``compute()`` and stored the first time only."""
        value = self.get(key)
        if value is not None:
            return value
        # One computation per key: callbacks answered at once (the map and the metrics box after
        # a new k) wait for the first one instead of running the same K-means side by side.
        with self._lock:
            key_lock = self._computing.setdefault(key, threading.Lock())
        try:
            with key_lock:
                value = self.get(key)
                if value is not None:
                    return value
                value = np.ascontiguousarray(compute())
                self.root.mkdir(parents=True, exist_ok=True)
                with atomic_path(self.path(key)) as tmp, open(tmp, "wb") as handle:
                    np.save(handle, value, allow_pickle=False)
                self._remember(key, value)
                return value
        finally:  # also when compute() raises: the next caller gets a fresh try, not a stale lock
            with self._lock:
                self._computing.pop(key, None)

    def _remember(self, key: str, value: np.ndarray) -> None:
        with self._lock:
            self._memory[key] = value
            while len(self._memory) > _MEMORY_ITEMS:
                self._memory.popitem(last=False)
