"""Leave-one-out logistic regressions against scikit-learn fitted one attribute at a time.

Tolerances: our Newton solver stops at a mean-gradient of 1e-10. Against scikit-learn's lbfgs run
to the same precision (``tol=1e-10``) coefficients agree within 1e-4 and predictions are identical.
Against the seed's settings (``max_iter=1000``, default ``tol=1e-4``, which stops lbfgs early)
coefficients agree within 0.1, at most 1 % of test predictions differ, all of them with
|decision| < 0.1 (near probability 0.5), and each metric differs by at most the number of flipped
predictions over the smallest class or predicted class (plus 1e-3 for AUC, which moves with
every score); with no flipped prediction they are equal.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)
from sklearn.model_selection import train_test_split

from celebalab.analysis._logreg import fit_leave_one_out
from celebalab.analysis._predictability import (
    binary_metrics,
    evaluate_split,
    official_split,
    random_split,
    run_protocol,
)
from celebalab.datasets.schema import ATTRIBUTE_NAMES
from test_stats_inputs import attribute_frame

NAMES = list(ATTRIBUTE_NAMES)


def sklearn_metrics(y: np.ndarray, pred: np.ndarray, score: np.ndarray) -> dict[str, float]:
    """scikit-learn's metrics with undefined values as NaN (never the seed's zero_division=1)."""
    both = 0 < y.sum() < len(y)
    return {
        "accuracy": accuracy_score(y, pred),
        "precision": precision_score(y, pred, zero_division=np.nan),
        "recall": recall_score(y, pred, zero_division=np.nan),
        "f1": f1_score(y, pred, zero_division=np.nan),
        "balanced_accuracy": balanced_accuracy_score(y, pred) if both else np.nan,
        "roc_auc": roc_auc_score(y, score) if both else np.nan,
    }


def test_random_split_is_train_test_split_of_the_frame() -> None:
    frame = attribute_frame(250)
    train, test = random_split(len(frame))
    X_train, X_test, _, _ = train_test_split(
        frame.drop(columns=["image_id", "partition", "Smiling"]),
        frame["Smiling"],
        test_size=0.2,
        random_state=42,
    )
    np.testing.assert_array_equal(train, X_train.index)
    np.testing.assert_array_equal(test, X_test.index)


def test_binary_metrics_equal_sklearn_including_ties_and_undefined() -> None:
    rng = np.random.default_rng(0)
    y = (rng.random((90, 6)) < 0.3).astype(np.uint8)
    score = np.round(rng.normal(size=(90, 6)) + y, 1)  # rounded: ties in the AUC
    score[:, 1] = -1.0  # nothing predicted positive: precision undefined
    y[:, 2] = 0  # no positive: recall, balanced accuracy, AUC undefined
    ours = binary_metrics(y, score)
    for j in range(6):
        expected = sklearn_metrics(y[:, j], score[:, j] > 0, score[:, j])
        for name, value in expected.items():
            np.testing.assert_allclose(ours[name][j], value, atol=1e-12, err_msg=f"{name} {j}")
    assert np.isnan(ours["precision"][1]) and ours["recall"][1] == 0 and ours["f1"][1] == 0
    assert np.isnan(ours["roc_auc"][2]) and np.isnan(ours["balanced_accuracy"][2])


@pytest.mark.slow
def test_newton_equals_tight_sklearn_fits() -> None:
    X = attribute_frame(600, seed=1)[NAMES].to_numpy()
    fit = fit_leave_one_out(X)
    scores = fit.decision_function(X)
    for j in range(len(NAMES)):
        features = np.delete(X, j, axis=1)
        model = LogisticRegression(tol=1e-10, max_iter=10_000).fit(features, X[:, j])
        coef, intercept = fit.sklearn_coef(j)
        np.testing.assert_allclose(coef, model.coef_[0], atol=1e-4)
        assert abs(intercept - model.intercept_[0]) < 1e-4
        np.testing.assert_array_equal(scores[:, j] > 0, model.predict(features) == 1)


@pytest.mark.slow
@pytest.mark.parametrize("protocol", ["random_split", "official"])
def test_protocol_metrics_match_seed_style_sklearn_fits(protocol: str) -> None:
    frame = attribute_frame(1500, seed=2)
    X, partitions = frame[NAMES].to_numpy(), frame["partition"].to_numpy()
    result = run_protocol(protocol, X, partitions, NAMES)
    train, test = random_split(len(X)) if protocol == "random_split" else official_split(partitions)
    assert (result.n_train, result.n_test) == (len(train), len(test))
    ours_scores = result.fit.decision_function(X[test])
    for j, name in enumerate(NAMES):
        features = np.delete(X, j, axis=1)
        model = LogisticRegression(max_iter=1000).fit(features[train], X[train, j])
        score = model.decision_function(features[test])
        flipped = (score > 0) != (ours_scores[:, j] > 0)
        assert flipped.mean() <= 0.01 and (np.abs(score[flipped]) < 0.1).all()
        np.testing.assert_allclose(
            fit_coef := result.fit.sklearn_coef(j)[0], model.coef_[0], atol=0.1
        )
        assert fit_coef.shape == (39,)
        y = X[test, j]
        smallest = min(y.sum(), (1 - y).sum(), (score > 0).sum(), (ours_scores[:, j] > 0).sum())
        tolerance = flipped.sum() / max(smallest, 1) + 1e-9
        for metric, value in sklearn_metrics(y, score > 0, score).items():
            slack = tolerance + (1e-3 if metric == "roc_auc" else 0)
            assert abs(result.table.loc[name, metric] - value) <= slack, (name, metric)
        majority = int(X[train, j].mean() > 0.5)
        assert result.table.loc[name, "baseline_accuracy"] == (X[test, j] == majority).mean()


def test_single_class_attribute_is_undefined_not_zero_or_one() -> None:
    frame = attribute_frame(400, seed=3)
    X = frame[NAMES].to_numpy().copy()
    X[:, NAMES.index("Bald")] = 0  # single class everywhere
    rare = NAMES.index("Blurry")
    X[:, rare] = 0
    X[[3, 50, 77], rare] = 1  # three random positives: the model never predicts one
    train, test = random_split(len(X))
    with pytest.raises(ValueError, match="class"):  # scikit-learn refuses it too
        LogisticRegression().fit(np.delete(X, 4, axis=1)[train], X[train, 4])
    table, fit = evaluate_split(X, train, test, NAMES)
    bald = table.loc["Bald"]
    assert not fit.fitted[NAMES.index("Bald")]
    for metric in ("accuracy", "precision", "recall", "f1", "balanced_accuracy", "roc_auc"):
        assert np.isnan(bald[metric]), metric
    assert bald["baseline_accuracy"] == 1.0 and "one class in the training rows" in bald["note"]
    blurry = table.loc["Blurry"]
    assert np.isnan(blurry["precision"])  # no predicted positive
    if blurry["positives_test"] == 0:
        assert np.isnan(blurry["recall"]) and np.isnan(blurry["roc_auc"])
        assert "one class in the test rows" in blurry["note"]
    else:
        assert blurry["recall"] == 0.0


def test_official_protocol_is_skipped_with_a_reason() -> None:
    frame = attribute_frame(100)
    X = frame[NAMES].to_numpy()
    no_info = run_protocol("official", X, np.full(100, -1, np.int8), NAMES)
    assert no_info.table is None and "no partition information" in no_info.skipped
    only_train = run_protocol("official", X, np.zeros(100, np.int8), NAMES)
    assert only_train.table is None and "test partition" in only_train.skipped
    assert run_protocol("random_split", X[:3], np.zeros(3, np.int8), NAMES).skipped
