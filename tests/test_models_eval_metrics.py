"""Per-attribute metrics against scikit-learn, column by column, including undefined cases."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

from celebalab.metrics.attributes import attribute_metrics, group_means, headline, majority_baseline


def _random_case(seed: int, n: int = 300, num_attrs: int = 9):
    """Random labels and scores with ties, plus single-class and never-predicted columns."""
    rng = np.random.default_rng(seed)
    prevalence = rng.uniform(0.05, 0.95, num_attrs)
    y = (rng.random((n, num_attrs)) < prevalence).astype(np.uint8)
    probs = np.clip(0.5 * y + rng.normal(0.25, 0.25, y.shape), 0, 1)
    probs[:, 1] = np.round(probs[:, 1], 1)  # heavy ties
    y[:, 2] = 0  # no positives: recall, balanced accuracy, AP, AUC undefined
    y[:, 3] = 1  # no negatives: specificity, balanced accuracy, AUC undefined
    probs[:, 4] = 0.0  # never predicted positive: precision undefined
    thresholds = rng.uniform(0.3, 0.7, num_attrs)
    return y, probs, thresholds


def _sk(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_metrics_match_sklearn_per_attribute(seed: int) -> None:
    y, probs, thr = _random_case(seed)
    m = attribute_metrics(y, probs, thr, names=[f"a{i}" for i in range(y.shape[1])])
    for j, name in enumerate(m.index):
        t, p = y[:, j], probs[:, j]
        pred = (p >= thr[j]).astype(np.uint8)
        row = m.loc[name]
        tn, fp, fn, tp = confusion_matrix(t, pred, labels=[0, 1]).ravel()
        assert (row.tp, row.fp, row.tn, row.fn) == (tp, fp, tn, fn)
        assert row.accuracy == pytest.approx(accuracy_score(t, pred))
        zd = {"zero_division": np.nan}
        np.testing.assert_allclose(row.precision, _sk(precision_score, t, pred, **zd))
        np.testing.assert_allclose(row.recall, _sk(recall_score, t, pred, **zd))
        np.testing.assert_allclose(row.f1, _sk(f1_score, t, pred, **zd))
        both = 0 < t.sum() < len(t)
        if both:
            assert row.balanced_accuracy == pytest.approx(balanced_accuracy_score(t, pred))
            assert row.roc_auc == pytest.approx(roc_auc_score(t, p))
        else:  # sklearn returns a number here; undefined must stay undefined
            assert np.isnan(row.balanced_accuracy) and np.isnan(row.roc_auc)
        if t.sum() > 0:
            assert row.average_precision == pytest.approx(average_precision_score(t, p))
        else:  # sklearn returns 0 without positives
            assert np.isnan(row.average_precision)


def test_macro_f1_matches_sklearn_and_skips_undefined() -> None:
    y, probs, thr = _random_case(3)
    probs[:, 5] = 0.0
    y[:, 5] = 0  # no positives and none predicted: F1 undefined, left out of macro-F1
    m = attribute_metrics(y, probs, thr)
    assert np.isnan(m.f1.iloc[5])
    pred = (probs >= thr).astype(np.uint8)
    expected = _sk(f1_score, y, pred, average="macro", zero_division=np.nan)
    h = headline(m)
    assert h["macro_f1"] == pytest.approx(expected)
    assert h["macro_f1_attributes"] == y.shape[1] - 1
    assert h["mean_accuracy"] == pytest.approx((pred == y).mean())


def test_majority_baseline_against_dummy_classifier() -> None:
    from sklearn.dummy import DummyClassifier

    y, _, _ = _random_case(4)
    y[:, 0] = 0
    y[:7, 0] = 1  # strongly unbalanced
    base = majority_baseline(y)
    for j in range(y.shape[1]):
        t = y[:, j]
        dummy = DummyClassifier(strategy="most_frequent").fit(np.zeros((len(t), 1)), t)
        pred = dummy.predict(np.zeros((len(t), 1)))
        assert base.baseline_accuracy.iloc[j] == pytest.approx(accuracy_score(t, pred))
        f1 = _sk(f1_score, t, pred, zero_division=np.nan)
        np.testing.assert_allclose(base.baseline_f1.iloc[j], f1)
        expected_bacc = 0.5 if 0 < t.sum() < len(t) else np.nan
        np.testing.assert_allclose(base.baseline_balanced_accuracy.iloc[j], expected_bacc)


def test_baseline_uses_training_prevalence_when_given() -> None:
    y = np.array([[1], [1], [1], [0]], dtype=np.uint8)
    own = majority_baseline(y)
    from_train = majority_baseline(y, train_prevalence=[0.2])
    assert own.baseline_class.iloc[0] == 1 and own.baseline_accuracy.iloc[0] == 0.75
    assert from_train.baseline_class.iloc[0] == 0 and from_train.baseline_accuracy.iloc[0] == 0.25


def test_group_means() -> None:
    y, probs, thr = _random_case(5, num_attrs=6)
    m = attribute_metrics(y, probs, thr, names=["a", "b", "c", "d", "e", "f"])
    g = group_means(m, {"a": "drawn", "b": "drawn", "e": "sampled"})
    assert list(g.index) == ["drawn", "sampled"]
    assert g.loc["drawn", "attributes"] == 2
    assert g.loc["drawn", "accuracy"] == pytest.approx(m.accuracy[["a", "b"]].mean())
    assert g.loc["sampled", "balanced_accuracy"] == pytest.approx(m.balanced_accuracy["e"])


def test_bad_shapes_are_rejected() -> None:
    with pytest.raises(ValueError, match="shape"):
        attribute_metrics(np.zeros((3, 2)), np.zeros((3, 3)), [0.5, 0.5])
    with pytest.raises(ValueError, match="0/1"):
        attribute_metrics(np.full((3, 1), 2), np.zeros((3, 1)), [0.5])
    empty = attribute_metrics(np.zeros((0, 1)), np.zeros((0, 1)), [0.5])
    assert len(empty) == 1 and (empty[["tp", "fp", "tn", "fn"]] == 0).all().all()
    undefined = ["accuracy", "balanced_accuracy", "f1", "average_precision", "roc_auc"]
    assert empty[undefined].isna().all().all()  # no images: every metric undefined, none 0
