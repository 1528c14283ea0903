"""Attribute statistics (``celebalab stats``): frequencies, co-occurrence, predictability, clusters.

The public names below load on first use, so that ``celebalab --help`` does not import pandas,
scikit-learn or matplotlib.
"""

from celebalab._lazy import lazy_exports

_LAZY = {
    "StatsResult": "celebalab.analysis.result",
    "compute_stats": "celebalab.analysis.runner",
    "StatsOptions": "celebalab.analysis.config",
    "run_stats": "celebalab.analysis.runner",
    "write_stats": "celebalab.analysis.runner",
    "build_stats_report": "celebalab.analysis.report",
}

__all__ = [*_LAZY]


__getattr__ = lazy_exports(__name__, _LAZY)
