"""The k-means sweep, chosen k, profiles and maps against scikit-learn run directly."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist
from sklearn.cluster import MiniBatchKMeans
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import StandardScaler

from celebalab.analysis._clustering import cluster_attributes, sample_rows
from celebalab.datasets.schema import ATTRIBUTE_NAMES
from test_stats_inputs import attribute_frame

NAMES = list(ATTRIBUTE_NAMES)


@pytest.fixture(scope="module")
def X() -> np.ndarray:
    return attribute_frame(500, seed=6)[NAMES].to_numpy()


@pytest.mark.slow
def test_sweep_equals_sklearn_and_k_is_best_silhouette(X: np.ndarray) -> None:
    result = cluster_attributes(X, NAMES, ks=(2, 3, 4), sample_size=300, tsne=False)
    Z = StandardScaler().fit_transform(X.astype(float))
    sample = sample_rows(len(X), 300)
    assert sample.size == 300 and np.unique(sample).size == 300
    for row in result.sweep.itertuples():
        model = MiniBatchKMeans(row.k, random_state=42, n_init=3, batch_size=4096).fit(Z)
        assert row.inertia == pytest.approx(model.inertia_, rel=1e-9)
        expected = silhouette_score(Z[sample], model.labels_[sample])
        assert row.silhouette == pytest.approx(expected, rel=1e-9)
    best = int(result.sweep.loc[result.sweep.silhouette.idxmax(), "k"])
    assert result.k == best and result.k_source == "best silhouette"


def test_profiles_sizes_and_distances_describe_the_labels(X: np.ndarray) -> None:
    result = cluster_attributes(X, NAMES, k=3, ks=(2, 3), sample_size=200, tsne=False)
    assert result.k == 3 and result.k_source == "user"
    labels = result.labels
    assert result.sizes.sum() == len(X)
    np.testing.assert_array_equal(result.sizes, np.bincount(labels, minlength=3))
    for c in range(3):
        np.testing.assert_allclose(result.profiles.loc[c], X[labels == c].mean(axis=0))
    Z = StandardScaler().fit_transform(X.astype(float))
    centers = np.stack([Z[labels == c].mean(axis=0) for c in range(3)])
    distances = result.centroid_distances.to_numpy()
    np.testing.assert_allclose(np.diag(distances), 0)
    np.testing.assert_allclose(distances, distances.T)
    # MiniBatchKMeans centres are close to (not exactly) the means of their members.
    assert np.abs(distances - cdist(centers, centers)).max() < 0.5
    assert result.pca.shape == (len(X), 2) and result.tsne is None
    assert 0 < result.pca_explained.sum() < 1


@pytest.mark.slow
def test_tsne_map_of_the_sample(X: np.ndarray) -> None:
    result = cluster_attributes(X[:150], NAMES, ks=(2,), sample_size=100, tsne=True)
    assert result.tsne.shape == (100, 2) and np.isfinite(result.tsne).all()


def test_impossible_k_is_a_clear_error(X: np.ndarray) -> None:
    with pytest.raises(ValueError, match="k=12 needs"):
        cluster_attributes(X[:10], NAMES, k=12, tsne=False)
    with pytest.raises(ValueError, match="too few"):
        cluster_attributes(X[:2], NAMES, tsne=False)
