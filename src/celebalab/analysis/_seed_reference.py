"""Deprecated: now :mod:`celebalab.analysis._notebook_reference` (removed in the next release)."""

from __future__ import annotations

import warnings
from typing import Any

from celebalab.analysis import _notebook_reference as notebook_reference

_RENAMED = {
    "seed_conditional_probabilities": "notebook_conditional_probabilities",
    "seed_logistic_regressions": "notebook_logistic_regressions",
}


def __getattr__(name: str) -> Any:
    if name in _RENAMED:
        warnings.warn(
            f"celebalab.analysis._seed_reference.{name} is deprecated; use "
            f"celebalab.analysis._notebook_reference.{_RENAMED[name]}",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(notebook_reference, _RENAMED[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
