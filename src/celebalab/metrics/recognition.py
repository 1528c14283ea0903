"""Face-recognition metrics of an embedding: identification (ranking) and verification (pairs).

Why these definitions (the field's usual ones, so figures compare with papers):

- **Identification**, leave-one-out within a split: each image whose identity has another image
  in the split queries all the split's other images. ``precision_at_1``; ``map_at_r``
  (Musgrave et al. 2020, "A Metric Learning Reality Check": R = number of other images of the
  query's identity, AP over the top R only), both as pytorch-metric-learning's
  ``AccuracyCalculator`` computes them; ``recall_at_k`` = share of queries with at least one
  same-identity image among the k nearest (Recall@K of the metric-learning literature);
  ``cmc_rank_k`` = share of queries whose identity is among the k best-scoring *identities*,
  an identity scoring its best image (the closed-set CMC curve of face identification).
- **Verification** on pairs of images of the split: ``roc_auc``; ``eer`` (the rate where false
  accepts equal false rejects, interpolated on the ROC); ``tar_at_far_<f>`` (true-accept rate
  at the strictest threshold whose false-accept rate is at most f). All pairs when there are at
  most ``max_pairs``, else every positive pair (up to ``max_pairs`` // 2) plus uniformly sampled
  negative pairs, seeded.

Similarity is the cosine (``metric="cosine"``) or the negative Euclidean distance
(``"euclidean"``, seed 002's attribute-vector comparison). Computations run in blocks of
queries, so memory stays at ``block × N`` floats.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

METRICS: tuple[str, ...] = ("cosine", "euclidean")
RECALL_KS: tuple[int, ...] = (1, 5, 10)
CMC_RANKS: tuple[int, ...] = (1, 5)
FARS: tuple[float, ...] = (1e-3, 1e-2)
_BLOCK = 512


def similarity_space(vectors: np.ndarray, metric: str) -> np.ndarray:
    """float64 copy of ``vectors`` prepared for :func:`_similarity` (unit rows for cosine)."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, not {metric!r}")
    x = np.asarray(vectors, dtype=np.float64)
    if metric == "cosine":
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        x = x / np.where(norms > 0, norms, 1.0)
    return x


def _similarity(a: np.ndarray, b: np.ndarray, metric: str) -> np.ndarray:
    if metric == "cosine":
        return a @ b.T
    sq = (a * a).sum(1)[:, None] - 2 * (a @ b.T) + (b * b).sum(1)[None, :]
    return -np.sqrt(np.maximum(sq, 0))


def identification_metrics(
    vectors: np.ndarray, identities: np.ndarray, metric: str = "cosine"
) -> dict[str, float]:
    """mAP@R, precision@1, recall@k and CMC rank-k of ``vectors`` (``N×D``) by ``identities``.

    Images with an unknown identity (< 0) are left out; queries are the images whose identity
    has at least two images. Returns NaN figures when there is no query, or only one identity
    (every answer would be right: identification is undefined, not perfect).
    """
    ids = np.asarray(identities, dtype=np.int64)
    keep = ids >= 0
    x, ids = similarity_space(vectors, metric)[keep], ids[keep]
    _, inverse, counts = np.unique(ids, return_inverse=True, return_counts=True)
    queries = np.flatnonzero(counts[inverse] >= 2)
    names = ["map_at_r", "precision_at_1", *(f"recall_at_{k}" for k in RECALL_KS),
             *(f"cmc_rank_{k}" for k in CMC_RANKS)]  # fmt: skip
    if len(queries) == 0 or len(counts) < 2:
        return {**dict.fromkeys(names, float("nan")), "queries": 0}
    order_ids = np.argsort(inverse, kind="stable")
    starts = np.r_[0, np.cumsum(np.bincount(inverse))[:-1]]
    max_r = int(counts.max()) - 1
    depth = min(len(x) - 1, max(max_r, max(RECALL_KS)))
    sums = {n: 0.0 for n in names}
    for lo in range(0, len(queries), _BLOCK):
        q = queries[lo : lo + _BLOCK]
        sim = _similarity(x[q], x, metric)
        sim[np.arange(len(q)), q] = -np.inf  # a query never retrieves itself
        top = np.argpartition(-sim, depth - 1, axis=1)[:, :depth] if depth < sim.shape[1] - 1 \
            else np.argsort(-sim, axis=1)[:, :depth]  # fmt: skip
        top = np.take_along_axis(top, np.argsort(-np.take_along_axis(sim, top, 1), 1,
                                                 kind="stable"), 1)  # fmt: skip
        rel = inverse[top] == inverse[q][:, None]
        r = counts[inverse[q]] - 1
        sums["precision_at_1"] += rel[:, 0].sum()
        for k in RECALL_KS:
            sums[f"recall_at_{k}"] += rel[:, :k].any(axis=1).sum()
        ranks = np.arange(1, depth + 1)
        within_r = ranks[None, :] <= r[:, None]
        precision = np.cumsum(rel, axis=1) / ranks[None, :]
        sums["map_at_r"] += ((precision * rel * within_r).sum(axis=1) / r).sum()
        per_identity = np.maximum.reduceat(sim[:, order_ids], starts, axis=1)
        true = per_identity[np.arange(len(q)), inverse[q]]
        better = (per_identity > true[:, None]).sum(axis=1)
        for k in CMC_RANKS:
            sums[f"cmc_rank_{k}"] += (better < k).sum()
    out = {n: float(v / len(queries)) for n, v in sums.items()}
    out["queries"] = len(queries)
    return out


@dataclass(frozen=True)
class Pairs:
    """Image pairs (row indices) with a same-identity flag."""

    first: np.ndarray
    second: np.ndarray
    same: np.ndarray
    sampled: bool


def make_pairs(identities: np.ndarray, max_pairs: int = 2_000_000, seed: int = 0) -> Pairs:
    """All pairs of known-identity images when few enough, else positives + sampled negatives."""
    ids = np.asarray(identities, dtype=np.int64)
    rows = np.flatnonzero(ids >= 0)
    n = len(rows)
    if n * (n - 1) // 2 <= max_pairs:
        i, j = np.triu_indices(n, k=1)
        a, b = rows[i], rows[j]
        return Pairs(a, b, ids[a] == ids[b], sampled=False)
    order = rows[np.argsort(ids[rows], kind="stable")]
    _, starts, counts = np.unique(ids[order], return_index=True, return_counts=True)
    pos_a, pos_b = [], []
    for start, count in zip(starts, counts, strict=True):
        if count > 1:
            i, j = np.triu_indices(count, k=1)
            pos_a.append(order[start + i])
            pos_b.append(order[start + j])
    rng = np.random.default_rng(seed)
    pa = np.concatenate(pos_a) if pos_a else np.zeros(0, np.int64)
    pb = np.concatenate(pos_b) if pos_b else np.zeros(0, np.int64)
    if len(pa) > max_pairs // 2:
        pick = np.sort(rng.choice(len(pa), max_pairs // 2, replace=False))
        pa, pb = pa[pick], pb[pick]
    wanted = max_pairs - len(pa)
    na = rows[rng.integers(0, n, wanted * 2)]
    nb = rows[rng.integers(0, n, wanted * 2)]
    neg = ids[na] != ids[nb]
    na, nb = na[neg][:wanted], nb[neg][:wanted]
    first, second = np.concatenate([pa, na]), np.concatenate([pb, nb])
    return Pairs(first, second, ids[first] == ids[second], sampled=True)


def pair_scores(vectors: np.ndarray, pairs: Pairs, metric: str = "cosine") -> np.ndarray:
    """Similarity of each pair (cosine, or negative Euclidean distance), float64."""
    x = similarity_space(vectors, metric)
    out = np.empty(len(pairs.first))
    for lo in range(0, len(out), 1 << 18):
        a, b = x[pairs.first[lo : lo + (1 << 18)]], x[pairs.second[lo : lo + (1 << 18)]]
        out[lo : lo + len(a)] = (a * b).sum(1) if metric == "cosine" else \
            -np.linalg.norm(a - b, axis=1)  # fmt: skip
    return out


def verification_metrics(same: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """ROC AUC, EER and TAR at each FAR of :data:`FARS`, from scikit-learn's ROC curve."""
    return roc_metrics(same, *roc_points(same, scores))


def roc_metrics(same: np.ndarray, fpr: np.ndarray, tpr: np.ndarray) -> dict[str, float]:
    """:func:`verification_metrics` from an ROC curve already computed by :func:`roc_points`."""
    from sklearn.metrics import auc

    same = np.asarray(same, dtype=bool)
    out: dict[str, float] = {"pairs": len(same), "positive_pairs": int(same.sum())}
    if same.all() or not same.any():
        return {**out, "roc_auc": float("nan"), "eer": float("nan"),
                **{far_key(f): float("nan") for f in FARS}}  # fmt: skip
    out["roc_auc"] = float(auc(fpr, tpr))
    out["eer"] = equal_error_rate(fpr, tpr)
    for far in FARS:
        out[far_key(far)] = float(tpr[fpr <= far].max())
    return out


def far_key(far: float) -> str:
    """Name of the TAR@FAR figure (``tar_at_far_0.001``)."""
    return f"tar_at_far_{far:g}"


def roc_points(same: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(FPR, TPR) of the ROC curve, for plotting (empty when only one kind of pair exists)."""
    from sklearn.metrics import roc_curve

    same = np.asarray(same, bool)
    if same.all() or not same.any():
        return np.zeros(0), np.zeros(0)
    fpr, tpr, _ = roc_curve(same, scores)
    return fpr, tpr


def equal_error_rate(fpr: np.ndarray, tpr: np.ndarray) -> float:
    """Where FPR = FNR on the ROC polyline (linear interpolation between its vertices)."""
    fnr = 1 - tpr
    diff = fpr - fnr  # rises from -1 (threshold +inf) to +1 (threshold -inf)
    k = int(np.flatnonzero(diff >= 0)[0])
    if k == 0 or diff[k] == 0:
        return float(fpr[k])
    t = -diff[k - 1] / (diff[k] - diff[k - 1])
    return float(fpr[k - 1] + t * (fpr[k] - fpr[k - 1]))
