"""Attribute statistics (``celebalab stats``): frequencies, co-occurrence, predictability, clusters.

The public entry points are loaded lazily so that ``celebalab --help`` does not import pandas,
scikit-learn or matplotlib.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from celebalab.analysis.report import build_stats_report
    from celebalab.analysis.runner import StatsResult, compute_stats, run_stats, write_stats

__all__ = ["StatsResult", "build_stats_report", "compute_stats", "run_stats", "write_stats"]

_HOMES = {
    "StatsResult": "runner",
    "compute_stats": "runner",
    "run_stats": "runner",
    "write_stats": "runner",
    "build_stats_report": "report",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f"{__name__}.{_HOMES[name]}"), name)
