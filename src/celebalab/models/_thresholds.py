"""Per-attribute decision thresholds tuned on the validation split.

A sigmoid output of 0.5 is the right cut only for a balanced, calibrated attribute. CelebA is
neither (Bald: 2 % positives), so each attribute gets its own threshold on the validation
probabilities. The default criterion is **balanced accuracy** (mean of recall and specificity):
it weighs both classes equally, so a rare attribute cannot be "solved" by always answering
"absent", and it is the headline metric of ``celebalab evaluate``. ``"f1"`` (positive-class F1)
is offered for retrieval-style use, where false positives of a rare class matter more, and
``"accuracy"`` for comparison with papers that report plain mean accuracy.

The rule is the one of :func:`celebalab.metrics.attributes.predict_labels`: present iff
``probability >= threshold``. Candidate cuts lie between consecutive distinct validation scores
(midpoints), so tied scores are never split and the chosen threshold generalises to scores
between them. Attributes whose validation split holds a single class keep 0.5.
"""

from __future__ import annotations

import numpy as np

THRESHOLD_METRICS: tuple[str, ...] = ("balanced_accuracy", "f1", "accuracy")
DEFAULT_THRESHOLD = 0.5


def tune_thresholds(
    y_true: np.ndarray, probabilities: np.ndarray, metric: str = "balanced_accuracy"
) -> np.ndarray:
    """Thresholds (length A) maximising ``metric`` per attribute on n×A labels and probabilities."""
    if metric not in THRESHOLD_METRICS:
        raise ValueError(f"metric must be one of {THRESHOLD_METRICS}, not {metric!r}")
    y = np.asarray(y_true).astype(bool)
    p = np.asarray(probabilities, dtype=np.float64)
    if y.shape != p.shape or y.ndim != 2:
        raise ValueError(f"labels {y.shape} and probabilities {p.shape} must both be n×A")
    return np.array([_best_cut(y[:, a], p[:, a], metric) for a in range(y.shape[1])])


def _best_cut(y: np.ndarray, p: np.ndarray, metric: str) -> float:
    pos = int(y.sum())
    neg = len(y) - pos
    if pos == 0 or neg == 0:
        return DEFAULT_THRESHOLD
    order = np.argsort(-p, kind="stable")
    s, t = p[order], y[order]
    # Cut j (0..n) predicts the j highest scores positive; only cuts at tie-group ends are valid.
    tp = np.concatenate(([0], np.cumsum(t)))
    fp = np.concatenate(([0], np.cumsum(~t)))
    valid = np.ones(len(s) + 1, dtype=bool)
    valid[1:-1] = s[:-1] != s[1:]
    if metric == "balanced_accuracy":
        score = (tp / pos + (neg - fp) / neg) / 2
    elif metric == "accuracy":
        score = (tp + neg - fp) / len(y)
    else:
        score = 2 * tp / np.maximum(tp + fp + pos, 1)
    score = np.where(valid, score, -np.inf)
    j = int(np.argmax(score))
    if j == 0:  # nothing predicted positive: cut above the highest score
        return float((s[0] + 1.0) / 2) if s[0] < 1.0 else float(np.nextafter(1.0, 2.0))
    lower = 0.0 if j == len(s) else s[j]  # highest score predicted negative (or 0)
    return float((s[j - 1] + lower) / 2)
