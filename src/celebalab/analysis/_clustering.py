"""Natural groups of faces in attribute space: a k-means sweep, profiles and 2-D maps.

Attribute vectors are standardised, MiniBatchKMeans runs for every k of the sweep on all rows,
the silhouette is measured on a fixed-seed sample (it is quadratic in the number of points), and
the chosen k is the user's or the best silhouette. Profiles are reported in the original 0/1
units (the share of each cluster with the attribute), distances between centroids in
standardised units.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

DEFAULT_KS: tuple[int, ...] = tuple(range(2, 11))
SEED = 42


@dataclass(frozen=True)
class ClusteringResult:
    """Everything the report and the output files show about the clusters."""

    sweep: pd.DataFrame
    k: int
    k_source: str
    labels: np.ndarray
    sizes: pd.Series
    profiles: pd.DataFrame
    centroid_distances: pd.DataFrame
    pca: np.ndarray
    pca_explained: np.ndarray
    sample: np.ndarray
    tsne: np.ndarray | None
    notes: tuple[str, ...] = ()


def sample_rows(n: int, size: int, seed: int = SEED) -> np.ndarray:
    """Sorted indices of a fixed-seed sample of ``size`` rows (all rows when ``n <= size``)."""
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))


def kmeans_sweep(
    Z: np.ndarray, ks: Sequence[int], sample: np.ndarray, batch_size: int = 4096
) -> tuple[pd.DataFrame, dict[int, object]]:
    """Fit MiniBatchKMeans for every k on the standardised rows ``Z``; inertia and silhouette.

    Runs single-threaded: with 40 features the threads of scikit-learn's k-means mostly wait on
    each other, and on a busy machine that made the sweep 15x slower than one thread.
    """
    from sklearn.cluster import MiniBatchKMeans
    from sklearn.metrics import silhouette_score
    from threadpoolctl import threadpool_limits

    rows, models = [], {}
    with threadpool_limits(limits=1):
        for k in ks:
            model = MiniBatchKMeans(
                n_clusters=k, random_state=SEED, n_init=3, batch_size=batch_size
            ).fit(Z)
            labels = model.labels_[sample]
            distinct = np.unique(labels).size
            ok = 2 <= distinct < sample.size
            score = silhouette_score(Z[sample], labels, random_state=SEED) if ok else np.nan
            rows.append({"k": k, "inertia": float(model.inertia_), "silhouette": float(score)})
            models[k] = model
    return pd.DataFrame(rows), models


def cluster_attributes(
    X: np.ndarray,
    attributes: Sequence[str],
    k: int | None = None,
    ks: Sequence[int] = DEFAULT_KS,
    sample_size: int = 5000,
    tsne: bool = True,
) -> ClusteringResult:
    """Sweep k, pick one, and describe the clusters of the 0/1 attribute rows ``X``."""
    from scipy.spatial.distance import cdist
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    n = X.shape[0]
    notes: list[str] = []
    ks = sorted({*ks, *([k] if k is not None else [])})
    usable = [kk for kk in ks if 2 <= kk < n]
    if k is not None and k not in usable:
        raise ValueError(f"k={k} needs 2 <= k < number of rows ({n})")
    if not usable:
        raise ValueError(f"{n} rows are too few to cluster")
    Z = StandardScaler().fit_transform(X.astype(np.float64))
    sample = sample_rows(n, sample_size)
    sweep, models = kmeans_sweep(Z, usable, sample)
    if k is None:
        scores = sweep["silhouette"].to_numpy()
        if np.isnan(scores).all():
            k, source = usable[0], "smallest k (silhouette undefined for every k)"
        else:
            k, source = int(sweep["k"].iloc[int(np.nanargmax(scores))]), "best silhouette"
    else:
        source = "user"
    model = models[k]
    labels = model.labels_.astype(np.int32)
    sizes = pd.Series(np.bincount(labels, minlength=k), name="size")
    sizes.index.name = "cluster"
    if (sizes == 0).any():
        notes.append(f"{int((sizes == 0).sum())} of the {k} clusters ended up empty")
    profiles = pd.DataFrame(
        [
            X[labels == c].mean(axis=0) if sizes[c] else np.full(len(attributes), np.nan)
            for c in range(k)
        ],
        columns=list(attributes),
    )
    profiles.index.name = "cluster"
    centers = model.cluster_centers_
    distances = pd.DataFrame(cdist(centers, centers), index=profiles.index, columns=range(k))
    pca = PCA(n_components=2, random_state=SEED).fit(Z)
    embedding = None
    if tsne:
        embedding, note = tsne_embedding(Z[sample])
        if note:
            notes.append(note)
    return ClusteringResult(
        sweep=sweep,
        k=k,
        k_source=source,
        labels=labels,
        sizes=sizes,
        profiles=profiles,
        centroid_distances=distances,
        pca=pca.transform(Z),
        pca_explained=pca.explained_variance_ratio_,
        sample=sample,
        tsne=embedding,
        notes=tuple(notes),
    )


def tsne_embedding(Z: np.ndarray) -> tuple[np.ndarray | None, str | None]:
    """openTSNE 2-D map of the sample (fixed seed, 2 threads), or why it was not computed."""
    from openTSNE import TSNE

    if Z.shape[0] < 10:
        return None, f"t-SNE skipped: {Z.shape[0]} sampled rows are too few"
    perplexity = min(30.0, (Z.shape[0] - 1) / 3.0)
    # Barnes-Hut is the faster gradient below ~10k points, the FFT interpolation above.
    method = "bh" if Z.shape[0] < 10_000 else "fft"
    tsne = TSNE(
        n_components=2,
        perplexity=perplexity,
        negative_gradient_method=method,
        random_state=SEED,
        n_jobs=2,
        verbose=False,
    )
    return np.asarray(tsne.fit(Z)), None
