"""The result of a ``stats`` run, in a module of its own so that the code computing it
(``runner``) and the code presenting it (``report``, ``summary``) import it without importing
each other."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from celebalab.analysis._clustering import ClusteringResult
from celebalab.analysis._predictability import ProtocolResult
from celebalab.analysis.associations import Associations


@dataclass
class StatsResult:
    """All statistics of one run; ``files`` is filled by :func:`~celebalab.analysis.runner.
    write_stats`."""

    dataset: dict[str, Any]
    options: dict[str, Any]
    frequencies: pd.DataFrame
    associations: Associations
    top_pairs: pd.DataFrame
    predictability: dict[str, ProtocolResult]
    clustering: ClusteringResult | None
    image_ids: np.ndarray
    partitions: np.ndarray
    image_strips: dict[int, np.ndarray] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
