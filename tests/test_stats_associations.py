"""Frequencies, P(A | B), phi and lift against the seed's loop, numpy/scipy and the definitions."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd

from celebalab.analysis._frequencies import attribute_frequencies
from celebalab.analysis._notebook_reference import notebook_conditional_probabilities
from celebalab.analysis.associations import clustered_order, compute_associations, top_pairs
from celebalab.datasets.schema import ATTRIBUTE_NAMES
from test_stats_inputs import attribute_frame

NAMES = list(ATTRIBUTE_NAMES)


def test_conditional_probability_equals_seed_loop() -> None:
    frame = attribute_frame(300, seed=1)
    assoc = compute_associations(frame[NAMES].to_numpy(), NAMES)
    expected = notebook_conditional_probabilities(frame).astype(float)
    np.testing.assert_allclose(assoc.conditional.to_numpy(), expected.to_numpy(), atol=1e-12)
    assert (np.diag(assoc.conditional) == 1.0).all()


def test_phi_equals_pearson_correlation_and_lift_its_definition() -> None:
    X = attribute_frame(400, seed=2)[NAMES].to_numpy()
    assoc = compute_associations(X, NAMES)
    np.testing.assert_allclose(assoc.phi.to_numpy(), np.corrcoef(X, rowvar=False), atol=1e-12)
    p = X.mean(axis=0)
    joint = (X[:, :, None] & X[:, None, :]).mean(axis=0)
    np.testing.assert_allclose(assoc.lift.to_numpy(), joint / np.outer(p, p), rtol=1e-12)
    np.testing.assert_array_equal(assoc.joint.to_numpy(), X.T.astype(int) @ X.astype(int))


def test_attribute_that_never_occurs_gives_undefined_cells() -> None:
    X = attribute_frame(200, seed=3)[NAMES].to_numpy().copy()
    X[:, NAMES.index("Bald")] = 0
    assoc = compute_associations(X, NAMES)
    assert assoc.conditional["Bald"].isna().all()  # P(A | Bald): Bald never occurs
    assert (assoc.conditional.loc["Bald"].drop("Bald") == 0).all()  # P(Bald | B) = 0
    assert assoc.phi["Bald"].isna().all() and assoc.phi.loc["Bald"].isna().all()
    assert assoc.lift["Bald"].isna().all()
    assert not assoc.phi.drop(index="Bald", columns="Bald").isna().any().any()


def test_top_pairs_are_the_extreme_phi_pairs() -> None:
    X = attribute_frame(500, seed=4)[NAMES].to_numpy()
    assoc = compute_associations(X, NAMES)
    pairs = top_pairs(assoc, n_pairs=5)
    phi = assoc.phi.to_numpy().copy()
    np.fill_diagonal(phi, np.nan)
    best = np.unravel_index(np.nanargmax(phi), phi.shape)
    worst = np.unravel_index(np.nanargmin(phi), phi.shape)
    positive, negative = (
        pairs[pairs.association == "positive"],
        pairs[pairs.association == "negative"],
    )
    assert {positive.iloc[0].A, positive.iloc[0].B} == {NAMES[best[0]], NAMES[best[1]]}
    assert {negative.iloc[0].A, negative.iloc[0].B} == {NAMES[worst[0]], NAMES[worst[1]]}
    assert positive.phi.is_monotonic_decreasing and negative.phi.is_monotonic_increasing
    row = positive.iloc[0]
    assert row["P(A|B)"] == assoc.conditional.loc[row.A, row.B]


def test_clustered_order_is_a_permutation_that_groups_correlated_attributes() -> None:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 2, (300, 2))
    noisy = lambda col: col ^ (rng.random(300) < 0.1)  # noqa: E731
    X = np.column_stack([base[:, 0], base[:, 1], noisy(base[:, 0]), noisy(base[:, 1])])
    order = clustered_order(np.corrcoef(X, rowvar=False), ["a", "b", "a2", "b2"])
    assert sorted(order) == ["a", "a2", "b", "b2"]
    assert abs(order.index("a") - order.index("a2")) == 1
    assert abs(order.index("b") - order.index("b2")) == 1


def test_frequencies_overall_per_partition_and_imbalance() -> None:
    frame = attribute_frame(200, seed=5)
    frame["Eyeglasses"] = 0
    frame.loc[:4, "Wearing_Hat"] = 1
    frame.loc[5:, "Wearing_Hat"] = 0
    X = frame[NAMES].to_numpy()
    freq = attribute_frequencies(X, NAMES, frame["partition"].to_numpy())
    pd.testing.assert_series_equal(
        freq["count"], frame[NAMES].sum(), check_names=False, check_dtype=False
    )
    for code, name in ((0, "train"), (1, "val"), (2, "test")):
        part = frame[frame.partition == code][NAMES]
        np.testing.assert_allclose(freq[f"share_{name}"], part.mean())
    assert np.isnan(freq.loc["Eyeglasses", "imbalance_ratio"])  # single class: undefined
    assert freq.loc["Wearing_Hat", "imbalance_ratio"] == 195 / 5
    assert freq.loc["Wearing_Hat", "majority_accuracy"] == 195 / 200
    assert freq.loc["Wearing_Hat", "trivial_over_90"]
    share = freq["share"]
    np.testing.assert_array_equal(freq["trivial_over_90"], (share > 0.9) | (share < 0.1))


def test_frequencies_without_partition_information() -> None:
    X = attribute_frame(30)[NAMES].to_numpy()
    freq = attribute_frequencies(X, NAMES, np.full(30, -1, np.int8))
    assert not any(c.startswith("share_") for c in freq.columns)


def test_phi_table_equals_the_associations_phi_without_scipy_clustering() -> None:
    """The explorer's phi (a view callback) skips the clustering order and SciPy's import."""
    code = (
        "import sys, numpy as np; from celebalab.analysis.associations import phi_table, "
        "compute_associations; rng = np.random.default_rng(0); "
        "X = (rng.random((500, 5)) < [0.1, 0.5, 0.3, 0.0, 0.7]).astype(np.uint8); "
        "names = list('abcde'); t = phi_table(X, names); "
        "assert 'scipy.cluster' not in sys.modules; "
        "full = compute_associations(X, names).phi.to_numpy(); "
        "np.testing.assert_array_equal(t.to_numpy(), full); "
        "assert list(t.index) == names == list(t.columns)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
