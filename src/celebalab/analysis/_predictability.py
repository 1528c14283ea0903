"""How well each attribute is predicted from the other 39, beside the majority-class baseline.

Two protocols: a random 80/20 split (``train_test_split(..., test_size=0.2, random_state=42)`` on
the row indices, the split of the reference statistics notebook, row for row) and the official
CelebA partition (train → test). Metrics that are undefined on the test set — precision with no
predicted positive, recall with no positive, AUC and balanced accuracy with one class — are NaN,
never silently 0 or 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from celebalab.analysis._logreg import LeaveOneOutFit, fit_leave_one_out

PROTOCOLS: dict[str, str] = {
    "random_split": "random 80/20 split of the rows (train_test_split, random_state=42)",
    "official": "official CelebA partition: fit on train, score on test",
}

METRIC_COLUMNS: tuple[str, ...] = (
    "accuracy",
    "baseline_accuracy",
    "gain_over_baseline",
    "precision",
    "recall",
    "f1",
    "balanced_accuracy",
    "roc_auc",
)


@dataclass(frozen=True)
class ProtocolResult:
    """Metrics of one protocol (``table``), or why it was skipped (``skipped``)."""

    name: str
    description: str
    table: pd.DataFrame | None = None
    fit: LeaveOneOutFit | None = None
    n_train: int = 0
    n_test: int = 0
    skipped: str | None = None


def random_split(n: int, random_state: int = 42) -> tuple[np.ndarray, np.ndarray]:
    """Random train/test row indices: ``train_test_split`` with ``test_size=0.2``."""
    from sklearn.model_selection import train_test_split

    if n < 5:
        raise ValueError(f"{n} rows are too few for an 80/20 split")
    train, test = train_test_split(np.arange(n), test_size=0.2, random_state=random_state)
    return np.asarray(train), np.asarray(test)


#: Deprecated alias of :func:`random_split` (removed in the next release).
seed_split = random_split


def official_split(partitions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the official train (0) and test (2) partitions; ValueError saying why if unusable."""
    if (partitions < 0).all():
        raise ValueError("the table has no partition information")
    train, test = np.flatnonzero(partitions == 0), np.flatnonzero(partitions == 2)
    empty = [name for name, rows in (("train", train), ("test", test)) if rows.size == 0]
    if empty:
        noun = "partition has" if len(empty) == 1 else "partitions have"
        raise ValueError(f"the official {' and '.join(empty)} {noun} no rows in this selection")
    return train, test


def binary_metrics(y_true: np.ndarray, score: np.ndarray) -> dict[str, np.ndarray]:
    """Column-wise metrics of 0/1 targets ``(n, m)`` against decision scores (positive ⇒ class 1).

    Ties in ``score`` count half in the AUC, as in ``sklearn.metrics.roc_auc_score``.
    """
    from celebalab.metrics.attributes import roc_auc

    y = y_true.astype(bool)
    pred = score > 0
    tp = (y & pred).sum(axis=0).astype(np.float64)
    fp = (~y & pred).sum(axis=0).astype(np.float64)
    fn = (y & ~pred).sum(axis=0).astype(np.float64)
    tn = (~y & ~pred).sum(axis=0).astype(np.float64)
    pos, neg = tp + fn, tn + fp
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), np.nan)
        recall = np.where(pos > 0, tp / pos, np.nan)
        f1 = np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), np.nan)
        both = (pos > 0) & (neg > 0)
        balanced = np.where(both, (tp / pos + tn / neg) / 2, np.nan)
    return {
        "accuracy": (tp + tn) / (pos + neg),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "balanced_accuracy": balanced,
        "roc_auc": roc_auc(y, score),
    }


def evaluate_split(
    X: np.ndarray, train: np.ndarray, test: np.ndarray, attributes: Sequence[str]
) -> tuple[pd.DataFrame, LeaveOneOutFit]:
    """Fit every attribute on the others over ``train`` and score on ``test``, one row each."""
    X_train, X_test = X[train], X[test]
    fit = fit_leave_one_out(X_train)
    metrics = binary_metrics(X_test, fit.decision_function(X_test))
    majority = (X_train.mean(axis=0) > 0.5).astype(np.uint8)
    table = pd.DataFrame(
        {
            "n_train": len(train),
            "n_test": len(test),
            "positives_train": X_train.sum(axis=0, dtype=np.int64),
            "positives_test": X_test.sum(axis=0, dtype=np.int64),
            "accuracy": metrics["accuracy"],
            "baseline_accuracy": (X_test == majority).mean(axis=0),
        },
        index=pd.Index(list(attributes), name="attribute"),
    )
    table["gain_over_baseline"] = table["accuracy"] - table["baseline_accuracy"]
    for name in ("precision", "recall", "f1", "balanced_accuracy", "roc_auc"):
        table[name] = metrics[name]
    table["note"] = [_note(fit.fitted[j], X_test[:, j]) for j in range(len(attributes))]
    not_fitted = ~fit.fitted
    table.loc[not_fitted, ["accuracy", "gain_over_baseline", *METRIC_COLUMNS[3:]]] = np.nan
    return table, fit


def _note(fitted: bool, y_test: np.ndarray) -> str:
    if not fitted:
        return "one class in the training rows: no model can be fitted"
    if y_test.min() == y_test.max():
        return "one class in the test rows: AUC and balanced accuracy undefined"
    return ""


def run_protocol(
    name: str, X: np.ndarray, partitions: np.ndarray, attributes: Sequence[str]
) -> ProtocolResult:
    """Run protocol ``name`` ("random_split" or "official"); an impossible split is skipped."""
    description = PROTOCOLS[name]
    try:
        train, test = random_split(len(X)) if name == "random_split" else official_split(partitions)
    except ValueError as err:
        return ProtocolResult(name, description, skipped=str(err))
    table, fit = evaluate_split(X, train, test, attributes)
    return ProtocolResult(name, description, table, fit, len(train), len(test))
