"""Projections, clusterings, metrics and neighbours of the explorer against their references."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.cluster.hierarchy import fcluster, linkage, to_tree
from sklearn.cluster import DBSCAN, KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.neighbors import NearestNeighbors

from celebalab.explorer import _clustering as clustering
from celebalab.explorer import _projections as projections
from celebalab.explorer._dendrogram import build_tree, dendrogram_figure, tree_labels
from celebalab.explorer._metrics import clustering_silhouette, identity_knn_accuracy
from celebalab.explorer._neighbours import ExactCosineIndex


@pytest.fixture(scope="module")
def blobs() -> tuple[np.ndarray, np.ndarray]:
    """Vectors of 30 people × 8 images in 24-D, plus their identities."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(30, 24))
    identity = np.repeat(np.arange(30), 8)
    vectors = centres[identity] + 0.7 * rng.normal(size=(len(identity), 24))
    return vectors.astype(np.float32), identity


def test_pca_components_match_sklearn(blobs) -> None:
    vectors, _ = blobs
    pca = projections.fit_pca(vectors)
    k = projections.components_for(pca.explained_variance_ratio_)
    reference = PCA(n_components=0.95, svd_solver="full").fit(vectors)
    assert k == reference.n_components_
    scores = projections.pca_scores(pca, vectors, k)
    expected = reference.transform(vectors)
    # components are defined up to sign
    signs = np.sign(np.sum(scores * expected, axis=0))
    np.testing.assert_allclose(scores * signs, expected, atol=1e-3)


def test_kmeans_matches_sklearn_and_dbscan_is_sklearns(blobs) -> None:
    vectors, _ = blobs
    rng = np.random.default_rng(2)
    separated = (rng.normal(size=(5, 24)) * 10)[rng.integers(0, 5, 400)] + rng.normal(
        size=(400, 24)
    )
    labels = clustering.cluster_labels(separated, "kmeans", {"k": 5})
    reference = KMeans(n_clusters=5, n_init=10, random_state=0).fit(separated)
    assert adjusted_rand_score(labels, reference.labels_) == 1.0
    inertia = sum(
        ((separated[labels == c] - separated[labels == c].mean(0)) ** 2).sum() for c in range(5)
    )
    assert inertia == pytest.approx(reference.inertia_, rel=1e-4)
    assert np.array_equal(labels, clustering.cluster_labels(separated, "kmeans", {"k": 5}))
    labels = clustering.cluster_labels(vectors, "dbscan", {"eps": 3.0, "min_samples": 4})
    assert np.array_equal(labels, DBSCAN(eps=3.0, min_samples=4).fit_predict(vectors))
    with pytest.raises(ValueError):
        clustering.cluster_labels(vectors, "dbscan", {"eps": 0, "min_samples": 4})
    with pytest.raises(ValueError):
        clustering.cluster_labels(vectors, "spectral", {})


def test_faiss_threads_follow_the_free_cores(monkeypatch) -> None:
    monkeypatch.setattr(clustering.os, "getloadavg", lambda: (0.1, 0.0, 0.0))
    assert clustering.free_cores(2) == 2
    monkeypatch.setattr(clustering.os, "getloadavg", lambda: (9.0, 0.0, 0.0))
    assert clustering.free_cores(2) == 1  # busy cores: one thread, never none


def test_hdbscan_labels_are_the_librarys_and_find_tight_people(blobs) -> None:
    import hdbscan

    vectors, identity = blobs
    labels = clustering.cluster_labels(vectors, "hdbscan", {"min_cluster_size": 5})
    assert np.array_equal(labels, hdbscan.HDBSCAN(min_cluster_size=5).fit_predict(vectors))
    rng = np.random.default_rng(1)
    tight = (rng.normal(size=(30, 24)) * 3)[identity] + 0.1 * rng.normal(size=(len(identity), 24))
    labels = clustering.cluster_labels(tight, "hdbscan", {"min_cluster_size": 5})
    assert labels.dtype == np.int32 and np.unique(labels[labels >= 0]).size == 30
    purity = [
        np.bincount(identity[labels == c]).max() / (labels == c).sum()
        for c in np.unique(labels[labels >= 0])
    ]
    assert min(purity) == 1.0


def test_hierarchical_is_scipy_ward_and_sampled_beyond_the_cap(blobs, monkeypatch) -> None:
    vectors, _ = blobs
    labels = clustering.cluster_labels(vectors, "hierarchical", {"k": 6})
    reference = fcluster(linkage(vectors.astype(np.float64), "ward"), 6, "maxclust") - 1
    assert np.array_equal(labels, reference)
    monkeypatch.setattr(clustering, "HIERARCHY_CAP", 100)
    labels = clustering.cluster_labels(vectors, "hierarchical", {"k": 6})
    sample = clustering.hierarchy_sample(len(vectors), cap=100)
    tree = linkage(vectors[sample].astype(np.float64), "ward")
    assert np.array_equal(labels[sample], fcluster(tree, 6, "maxclust") - 1)
    nearest = NearestNeighbors(n_neighbors=1).fit(vectors[sample]).kneighbors(vectors)[1][:, 0]
    assert np.array_equal(labels, labels[sample][nearest])


def test_tree_members_and_figure(blobs) -> None:
    vectors, _ = blobs
    rows = np.arange(10, 130)
    tree = build_tree(vectors, rows)
    _, nodes = to_tree(tree.linkage, rd=True)
    for node in (0, 50, tree.n, tree.n + 60, 2 * tree.n - 2):
        expected = np.sort(rows[nodes[node].pre_order()])
        assert np.array_equal(tree.members(node), expected)
    assert np.array_equal(tree.members(2 * tree.n - 2), rows)
    with pytest.raises(ValueError):
        tree.members(2 * tree.n - 1)
    fig = dendrogram_figure(tree, k=4, leaves=20, title="t")
    markers = fig.data[-1]
    assert len(markers.customdata) == 20 + 19  # 20 drawn leaves and the 19 merges above them
    leaves_drawn = [n for n, y in zip(markers.customdata, markers.y, strict=True) if y == 0]
    covered = np.concatenate([tree.members(int(n)) for n in leaves_drawn])
    assert np.array_equal(np.sort(covered), rows)  # the drawn leaves partition the subset
    assert np.unique(tree_labels(tree, 4)).size == 4
    assert build_tree(vectors, np.array([3])) is None


def test_exact_index_matches_sklearn_cosine(blobs) -> None:
    vectors, _ = blobs
    index = ExactCosineIndex(vectors=vectors)
    distances, indices = index.search(vectors[:7], 5)
    ref_d, ref_i = (
        NearestNeighbors(n_neighbors=5, metric="cosine").fit(vectors).kneighbors(vectors[:7])
    )
    assert np.array_equal(indices, ref_i)
    np.testing.assert_allclose(distances, ref_d, atol=1e-5)


def test_identity_knn_accuracy_is_leave_one_out_1nn(blobs) -> None:
    vectors, identity = blobs
    identity = identity.copy()
    identity[:3] = -1  # unknown people are never queries
    accuracy = identity_knn_accuracy(ExactCosineIndex(vectors=vectors), vectors, identity)
    known = np.flatnonzero(identity >= 0)
    # leave-one-out 1-NN: the nearest neighbour other than the image itself
    neighbours = (
        NearestNeighbors(n_neighbors=2, metric="cosine")
        .fit(vectors)
        .kneighbors(vectors[known], return_distance=False)
    )
    other = np.where(neighbours[:, 0] == known, neighbours[:, 1], neighbours[:, 0])
    hits = identity[other] == identity[known]
    assert accuracy == pytest.approx(np.mean(hits))
    assert np.isnan(
        identity_knn_accuracy(ExactCosineIndex(vectors=vectors), vectors, np.arange(len(vectors)))
    )


def test_silhouette_matches_sklearn_and_skips_noise(blobs) -> None:
    vectors, identity = blobs
    labels = (identity % 4).astype(np.int32)
    labels[:5] = -1
    keep = labels >= 0
    expected = silhouette_score(vectors[keep], labels[keep])
    assert clustering_silhouette(vectors, labels) == pytest.approx(expected, rel=1e-5)
    assert np.isnan(clustering_silhouette(vectors, np.zeros(len(vectors), np.int32)))
