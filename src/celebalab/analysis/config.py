"""What ``celebalab stats`` computes, declared once with the shared options
(:mod:`celebalab.options`): :func:`~celebalab.analysis.runner.compute_stats` checks its arguments
with :class:`StatsOptions` and the command makes its flags from it
(:func:`celebalab.cli_options.with_options`). No torch here: ``celebalab --help`` reads it."""

from __future__ import annotations

from dataclasses import dataclass

from celebalab.analysis._inputs import PARTITION_CHOICES
from celebalab.options import Interval, IsBool, Names, Options, option


@dataclass(frozen=True, kw_only=True)
class StatsOptions(Options):
    """Settings of :func:`celebalab.analysis.compute_stats` (``stats``; the k-means sweep
    ``ks`` is a Python argument only)."""

    WHAT = "statistics"

    partition: str = option("all", help="Rows to analyse.",
                            check=Names("partition", PARTITION_CHOICES))  # fmt: skip
    k: int | None = option(None, help="Number of clusters (default: best silhouette).",
                           check=Interval(int, 2))  # fmt: skip
    sample: int = option(5000, help="Rows sampled for silhouette and t-SNE.",
                         check=Interval(int, 2))  # fmt: skip
    tsne: bool = option(True, help="Compute the t-SNE map.", check=IsBool())
    images: bool = option(True, help="Sample images per cluster.", check=IsBool())
