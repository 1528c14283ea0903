"""Attribute statistics (``celebalab stats``): frequencies, co-occurrence, predictability, clusters.

The public names below load on first use, so that ``celebalab --help`` does not import pandas,
scikit-learn or matplotlib.
"""

from importlib import import_module
from typing import Any

_LAZY = {
    "StatsResult": "celebalab.analysis.result",
    "compute_stats": "celebalab.analysis.runner",
    "run_stats": "celebalab.analysis.runner",
    "write_stats": "celebalab.analysis.runner",
    "build_stats_report": "celebalab.analysis.report",
}

__all__ = [*_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
