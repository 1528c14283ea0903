"""Per-attribute metrics of a multi-label classifier, computed for all attributes at once.

Every metric is a column of one DataFrame indexed by attribute name. A value that is undefined
(a recall without positives, a precision without predicted positives, a balanced accuracy or ROC
AUC on a single-class column) is NaN, never a silent 0 or 1, and the headline means skip it and
say how many attributes they cover. Definitions follow scikit-learn (``zero_division=np.nan``),
except where scikit-learn returns a number for an undefined value: balanced accuracy of a
single-class column and average precision without positives are NaN here.

Each metric has its majority-class baseline beside it: the constant predictor that always
answers the class that is more frequent (in the training data when its prevalence is given,
else in the evaluated data). Its balanced accuracy is 0.5 by construction.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import rankdata

#: Columns whose mean is a headline figure, paired with their majority-class baseline column.
HEADLINE_PAIRS: tuple[tuple[str, str, str], ...] = (
    ("mean_accuracy", "accuracy", "baseline_accuracy"),
    ("mean_balanced_accuracy", "balanced_accuracy", "baseline_balanced_accuracy"),
    ("macro_f1", "f1", "baseline_f1"),
    ("mean_average_precision", "average_precision", "baseline_average_precision"),
)


def predict_labels(
    probabilities: np.ndarray, thresholds: np.ndarray | Sequence[float]
) -> np.ndarray:
    """0/1 predictions: an attribute is predicted present when its probability >= its threshold."""
    probs = np.asarray(probabilities, dtype=np.float64)
    return (probs >= np.asarray(thresholds, dtype=np.float64)[None, :]).astype(np.uint8)


def attribute_metrics(
    y_true: np.ndarray,
    probabilities: np.ndarray,
    thresholds: np.ndarray | Sequence[float],
    names: Sequence[str] | None = None,
    train_prevalence: np.ndarray | Sequence[float] | None = None,
) -> pd.DataFrame:
    """One row per attribute: confusion counts, threshold metrics, ranking metrics and baselines.

    ``y_true`` is n×A 0/1, ``probabilities`` n×A in [0, 1], ``thresholds`` length A.
    ``train_prevalence`` (positive rate per attribute in the training data) chooses the majority
    class of the baseline; without it the evaluated data's own majority class is used.
    """
    y = _check_labels(y_true)
    probs = np.asarray(probabilities, dtype=np.float64)
    if probs.shape != y.shape:
        raise ValueError(f"probabilities shape {probs.shape} != labels shape {y.shape}")
    n, num_attrs = y.shape
    names = list(names) if names is not None else [f"attr_{i}" for i in range(num_attrs)]
    if len(names) != num_attrs:
        raise ValueError(f"{len(names)} names for {num_attrs} attributes")
    thr = np.asarray(thresholds, dtype=np.float64)
    if thr.shape != (num_attrs,):
        raise ValueError(f"thresholds shape {thr.shape} != ({num_attrs},)")

    pred = predict_labels(probs, thr).astype(bool)
    truth = y.astype(bool)
    tp = (pred & truth).sum(axis=0)
    fp = (pred & ~truth).sum(axis=0)
    fn = (~pred & truth).sum(axis=0)
    tn = n - tp - fp - fn
    pos = tp + fn
    neg = tn + fp

    recall = _divide(tp, pos)
    specificity = _divide(tn, neg)
    frame = pd.DataFrame(
        {
            "n": np.full(num_attrs, n, dtype=np.int64),
            "positives": pos.astype(np.int64),
            "prevalence": _divide(pos, np.full(num_attrs, n)),
            "threshold": thr,
            "tp": tp.astype(np.int64),
            "fp": fp.astype(np.int64),
            "tn": tn.astype(np.int64),
            "fn": fn.astype(np.int64),
            "accuracy": _divide(tp + tn, np.full(num_attrs, n)),
            "balanced_accuracy": (recall + specificity) / 2,
            "precision": _divide(tp, tp + fp),
            "recall": recall,
            "specificity": specificity,
            "f1": _divide(2 * tp, 2 * tp + fp + fn),
            "average_precision": average_precision(y, probs),
            "roc_auc": roc_auc(y, probs),
        },
        index=pd.Index(names, name="attribute"),
    )
    return frame.join(majority_baseline(y, train_prevalence, names))


def majority_baseline(
    y_true: np.ndarray,
    train_prevalence: np.ndarray | Sequence[float] | None = None,
    names: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Metrics of the constant majority-class predictor, per attribute.

    ``baseline_average_precision`` is the prevalence: the average precision of an uninformative
    ranking (in expectation), the reference for ``average_precision``.
    """
    y = _check_labels(y_true)
    n, num_attrs = y.shape
    pos = y.sum(axis=0).astype(np.float64)
    prevalence = _divide(pos, np.full(num_attrs, n))
    reference = prevalence if train_prevalence is None else np.asarray(train_prevalence, float)
    majority = (reference >= 0.5).astype(np.uint8)
    constant = np.broadcast_to(majority[None, :], y.shape)
    # A constant predictor has recall 1 on one class and 0 on the other: 0.5 when both exist.
    both = (pos > 0) & (pos < n)
    # F1 of "always positive" is 2p/(1+p); of "always negative" 0, or undefined without positives.
    f1_positive = _divide(2 * pos, pos + n)
    f1_negative = np.where(pos > 0, 0.0, np.nan)
    return pd.DataFrame(
        {
            "baseline_class": majority.astype(np.int64),
            "baseline_accuracy": (constant == y).mean(axis=0) if n else np.full(num_attrs, np.nan),
            "baseline_balanced_accuracy": np.where(both, 0.5, np.nan),
            "baseline_f1": np.where(majority == 1, f1_positive, f1_negative),
            "baseline_average_precision": np.where(pos > 0, prevalence, np.nan),
        },
        index=pd.Index(
            list(names) if names is not None else [f"attr_{i}" for i in range(num_attrs)],
            name="attribute",
        ),
    )


def average_precision(y_true: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Average precision per column, as scikit-learn's step-wise sum; NaN without positives.

    Tied scores form one threshold: every positive of a tie group gets the precision at the end
    of its group, so AP = mean over positives of that precision.
    """
    y = np.asarray(y_true, dtype=np.float64)
    s = np.asarray(scores, dtype=np.float64)
    n = y.shape[0]
    if n == 0:
        return np.full(y.shape[1], np.nan)
    order = np.argsort(-s, axis=0, kind="stable")
    s_sorted = np.take_along_axis(s, order, axis=0)
    y_sorted = np.take_along_axis(y, order, axis=0)
    tps = np.cumsum(y_sorted, axis=0)
    precision = tps / np.arange(1, n + 1)[:, None]
    # Row i ends a tie group when the next score differs; the last row always does.
    ends = np.ones_like(s_sorted, dtype=bool)
    ends[:-1] = s_sorted[:-1] != s_sorted[1:]
    end_index = np.where(ends, np.arange(n)[:, None], n)
    end_index = np.minimum.accumulate(end_index[::-1], axis=0)[::-1]
    group_precision = np.take_along_axis(precision, end_index, axis=0)
    pos = y.sum(axis=0)
    return _divide((y_sorted * group_precision).sum(axis=0), pos)


def roc_auc(y_true: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """ROC AUC per column via the Mann-Whitney U statistic (ties count half); NaN if one class."""
    y = np.asarray(y_true, dtype=np.float64)
    s = np.asarray(scores, dtype=np.float64)
    if y.shape[0] == 0:
        return np.full(y.shape[1], np.nan)
    ranks = rankdata(s, axis=0)
    pos = y.sum(axis=0)
    neg = y.shape[0] - pos
    u = (ranks * y).sum(axis=0) - pos * (pos + 1) / 2
    return _divide(u, pos * neg)


def headline(metrics: pd.DataFrame) -> dict[str, float | int]:
    """Headline means of the model and of its baseline; NaN-valued attributes are skipped.

    Mean accuracy always comes with mean balanced accuracy, macro-F1 and the baselines, because
    on CelebA's unbalanced attributes the majority class alone reaches ~80 % mean accuracy.
    """
    out: dict[str, float | int] = {"attributes": len(metrics), "images": int(metrics["n"].max())}
    for key, col, base in HEADLINE_PAIRS:
        out[key] = _nanmean(metrics[col])
        out[f"baseline_{key}"] = _nanmean(metrics[base])
        out[f"{key}_attributes"] = int(metrics[col].notna().sum())
    return out


def group_means(metrics: pd.DataFrame, groups: dict[str, str]) -> pd.DataFrame:
    """Mean balanced accuracy, accuracy and F1 (model and baseline) per group of attributes.

    ``groups`` maps attribute name to a group label (e.g. "drawn", "sampled"); attributes not in
    it are left out.
    """
    label = pd.Series(groups, name="group").reindex(metrics.index).dropna()
    cols = ["balanced_accuracy", "baseline_balanced_accuracy", "accuracy", "baseline_accuracy",
            "f1", "baseline_f1"]  # fmt: skip
    joined = metrics.loc[label.index, cols].assign(group=label)
    grouped = joined.groupby("group", sort=True)
    frame = grouped[cols].mean()
    frame.insert(0, "attributes", grouped.size())
    frame.insert(1, "defined_balanced_accuracy", grouped["balanced_accuracy"].count())
    return frame


def _check_labels(y_true: np.ndarray) -> np.ndarray:
    y = np.asarray(y_true)
    if y.ndim != 2:
        raise ValueError(f"labels must be n×A, got shape {y.shape}")
    if y.size and not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0/1")
    return y.astype(np.uint8)


def _divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """Elementwise num / den with NaN where den == 0."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _nanmean(values: pd.Series) -> float:
    finite = values.dropna()
    return float(finite.mean()) if len(finite) else float("nan")
