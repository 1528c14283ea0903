"""Face-recognition metrics against independent implementations: pytorch-metric-learning's
AccuracyCalculator (mAP@R, precision@1), scikit-learn (neighbours, top-k accuracy, ROC) and
SciPy's Mann–Whitney U (AUC), on the same random clustered embeddings."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pytorch_metric_learning.utils.accuracy_calculator import AccuracyCalculator
from scipy.stats import mannwhitneyu
from sklearn.metrics import roc_auc_score, roc_curve, top_k_accuracy_score
from sklearn.neighbors import NearestNeighbors

from celebalab.metrics.recognition import (
    FARS,
    far_key,
    identification_metrics,
    make_pairs,
    pair_scores,
    verification_metrics,
)


def embeddings(seed: int = 0, n_ids: int = 40, dim: int = 16) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 7, n_ids)  # some identities have a single image (never queried)
    ids = np.repeat(np.arange(n_ids), sizes)
    centres = rng.normal(size=(n_ids, dim))
    x = centres[ids] + 1.2 * rng.normal(size=(len(ids), dim))
    perm = rng.permutation(len(ids))
    return x[perm].astype(np.float32), ids[perm]


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_identification_matches_pml_and_sklearn(seed: int, metric: str) -> None:
    x, ids = embeddings(seed)
    ours = identification_metrics(x, ids, metric)
    unit = x / np.linalg.norm(x, axis=1, keepdims=True) if metric == "cosine" else x
    calc = AccuracyCalculator(include=("mean_average_precision_at_r", "precision_at_1"),
                              k="max_bin_count", device=torch.device("cpu"))  # fmt: skip
    ref = calc.get_accuracy(torch.from_numpy(unit), torch.from_numpy(ids))
    # PML's default k-NN is Euclidean (on unit vectors: the cosine order); singletons are not
    # queries in either implementation
    assert ours["map_at_r"] == pytest.approx(ref["mean_average_precision_at_r"], abs=1e-6)
    assert ours["precision_at_1"] == pytest.approx(ref["precision_at_1"], abs=1e-6)
    # recall@k: at least one same-identity image among the k nearest (sklearn neighbours)
    counts = np.bincount(ids)
    queries = np.flatnonzero(counts[ids] >= 2)
    nn = NearestNeighbors(n_neighbors=11, algorithm="brute").fit(unit)
    _, nbr = nn.kneighbors(unit[queries])
    nbr = np.array([[j for j in row if j != q][:10] for row, q in zip(nbr, queries, strict=True)])
    for k in (1, 5, 10):
        expected = np.mean((ids[nbr[:, :k]] == ids[queries][:, None]).any(axis=1))
        assert ours[f"recall_at_{k}"] == pytest.approx(expected, abs=1e-9)
    # CMC: identities scored by their best other image, ranked by sklearn's top-k accuracy
    dist = np.linalg.norm(unit[queries][:, None] - unit[None], axis=2)
    dist[np.arange(len(queries)), queries] = np.inf
    scores = np.stack([(-dist[:, ids == c]).max(axis=1) for c in range(len(counts))], axis=1)
    for k in (1, 5):
        expected = top_k_accuracy_score(ids[queries], scores, k=k, labels=np.arange(len(counts)))
        assert ours[f"cmc_rank_{k}"] == pytest.approx(expected, abs=1e-9)
    assert ours["queries"] == len(queries)


def test_verification_matches_sklearn_and_scipy() -> None:
    x, ids = embeddings(3)
    pairs = make_pairs(ids)
    assert not pairs.sampled and len(pairs.first) == len(ids) * (len(ids) - 1) // 2
    scores = pair_scores(x, pairs)
    ours = verification_metrics(pairs.same, scores)
    assert ours["roc_auc"] == pytest.approx(roc_auc_score(pairs.same, scores), abs=1e-12)
    pos, neg = scores[pairs.same], scores[~pairs.same]
    u = mannwhitneyu(pos, neg).statistic / (len(pos) * len(neg))
    assert ours["roc_auc"] == pytest.approx(u, abs=1e-9)
    # TAR@FAR and EER by brute force over every threshold
    thresholds = np.unique(scores)
    tar = np.array([(pos >= t).mean() for t in thresholds])
    far = np.array([(neg >= t).mean() for t in thresholds])
    for f in FARS:
        assert ours[far_key(f)] == pytest.approx(tar[far <= f].max(), abs=1e-12)
    frr = 1 - tar
    k = np.argmin(np.abs(far - frr))
    assert abs(ours["eer"] - (far[k] + frr[k]) / 2) <= abs(far[k] - frr[k]) / 2 + 1e-3
    fpr, tpr, _ = roc_curve(pairs.same, scores)
    assert ours["eer"] == pytest.approx(np.interp(0, fpr - (1 - tpr), fpr), abs=1e-3)


def test_sampled_pairs_keep_positives_and_are_seeded() -> None:
    _, ids = embeddings(4, n_ids=300)
    pairs = make_pairs(ids, max_pairs=5000, seed=1)
    assert pairs.sampled and len(pairs.first) == 5000
    assert (ids[pairs.first] == ids[pairs.second]).tolist() == pairs.same.tolist()
    counts = np.bincount(ids)
    assert pairs.same.sum() == (counts * (counts - 1) // 2).sum()
    again = make_pairs(ids, max_pairs=5000, seed=1)
    np.testing.assert_array_equal(again.first, pairs.first)


def test_undefined_when_no_pairs_or_queries() -> None:
    x = np.eye(4, dtype=np.float32)
    ident = identification_metrics(x, np.arange(4))
    assert ident["queries"] == 0 and np.isnan(ident["map_at_r"])
    ver = verification_metrics(np.zeros(6, bool), np.arange(6.0))
    assert np.isnan(ver["roc_auc"])


def test_identification_is_undefined_for_one_identity() -> None:
    ident = identification_metrics(np.random.default_rng(0).normal(size=(6, 3)), np.ones(6, int))
    assert ident["queries"] == 0
    assert all(np.isnan(v) for k, v in ident.items() if k != "queries")
