"""How often each attribute occurs, overall and per partition, and how imbalanced it is."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from celebalab.datasets.schema import PARTITION_NAMES

#: A majority-class predictor above this accuracy makes plain accuracy a misleading metric.
TRIVIAL_ACCURACY = 0.9


def attribute_frequencies(
    X: np.ndarray, attributes: Sequence[str], partitions: np.ndarray | None = None
) -> pd.DataFrame:
    """Count, share and imbalance of every attribute, one row per attribute.

    ``imbalance_ratio`` is majority count / minority count (undefined, NaN, for a single-class
    attribute); ``majority_accuracy`` is what always predicting the majority class scores, and
    ``trivial_over_90`` flags attributes where that alone beats 90 %. With ``partitions`` (codes
    0/1/2, -1 unknown) the count and share per known partition are added; the share of an empty
    partition is NaN.
    """
    n = X.shape[0]
    counts = X.sum(axis=0, dtype=np.int64)
    share = counts / n
    minority = np.minimum(counts, n - counts)
    majority = np.maximum(counts, n - counts)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(minority > 0, majority / np.maximum(minority, 1), np.nan)
    table = pd.DataFrame(
        {
            "count": counts,
            "share": share,
            "majority_class": (share > 0.5).astype(np.int8),
            "majority_accuracy": majority / n,
            "imbalance_ratio": ratio,
            "trivial_over_90": majority / n > TRIVIAL_ACCURACY,
        },
        index=pd.Index(list(attributes), name="attribute"),
    )
    if partitions is not None and (partitions >= 0).any():
        for code, name in PARTITION_NAMES.items():
            rows = partitions == code
            part_counts = X[rows].sum(axis=0, dtype=np.int64)
            table[f"count_{name}"] = part_counts
            table[f"share_{name}"] = part_counts / rows.sum() if rows.any() else np.nan
    return table
