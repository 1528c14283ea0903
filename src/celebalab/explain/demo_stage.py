"""Moved: the demo's explain stage lives in :mod:`celebalab.demo` (``celebalab.demo.demo_explain``).

This old path still works for one release (using it warns); it resolves by name, so the
explain package itself does not import the demo above it.
"""

from __future__ import annotations

import warnings
from importlib import import_module
from typing import Any


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    warnings.warn(
        f"celebalab.explain.demo_stage.{name} moved to celebalab.demo; the old path goes in the "
        "next release",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(import_module("celebalab.demo"), name)
