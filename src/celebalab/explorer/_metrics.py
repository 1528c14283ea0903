"""The metrics box: how well an embedding set separates people, and how tight its clusters are.

- identity kNN accuracy: for a seeded sample of (1,000) images whose person has at least two images,
  the share whose nearest *other* image (cosine) shows the same person — leave-one-out 1-NN;
- silhouette of the current clustering (scikit-learn, Euclidean, on a seeded sample of the space
  the clustering ran in; noise points excluded; undefined with fewer than two clusters).
"""

from __future__ import annotations

import math

import numpy as np

from celebalab.explorer._neighbours import NeighbourIndex

#: Queries of the kNN accuracy: an exact FAISS search of 1,000 faces against 202,599 × 128 takes
#: about 0.1 s on 2 cores (its standard error is at most 1.6 points); the silhouette's sample
#: costs O(sample²).
KNN_QUERIES = 1000
SILHOUETTE_SAMPLE = 5000
SEED = 0


def identity_knn_accuracy(
    index: NeighbourIndex, vectors: np.ndarray, identity: np.ndarray, sample: int = KNN_QUERIES
) -> float:
    """Leave-one-out 1-NN identity accuracy over at most ``sample`` queries; NaN if undefined.

    ``identity`` (N,) int with -1 for unknown; only images of known people with ≥ 2 images are
    queries (an image alone cannot be matched).
    """
    identity = np.asarray(identity)
    _, inverse, counts = np.unique(identity, return_inverse=True, return_counts=True)
    eligible = np.flatnonzero((identity >= 0) & (counts[inverse] >= 2))
    if eligible.size == 0:
        return math.nan
    rng = np.random.default_rng(SEED)
    queries = np.sort(rng.choice(eligible, size=min(sample, eligible.size), replace=False))
    _, neighbours = index.search(np.asarray(vectors[queries], dtype=np.float32), 2)
    nearest_other = np.where(neighbours[:, 0] == queries, neighbours[:, 1], neighbours[:, 0])
    return float(np.mean(identity[nearest_other] == identity[queries]))


def clustering_silhouette(
    space: np.ndarray, labels: np.ndarray, sample: int = SILHOUETTE_SAMPLE
) -> float:
    """Silhouette of ``labels`` in ``space`` on ≤ ``sample`` non-noise points; NaN if undefined."""
    from sklearn.metrics import silhouette_score

    keep = np.flatnonzero(np.asarray(labels) >= 0)
    if keep.size > sample:
        keep = np.sort(np.random.default_rng(SEED).choice(keep, size=sample, replace=False))
    chosen = np.asarray(labels)[keep]
    n_labels = np.unique(chosen).size
    if n_labels < 2 or n_labels >= keep.size:
        return math.nan
    return float(silhouette_score(np.asarray(space, dtype=np.float32)[keep], chosen))
