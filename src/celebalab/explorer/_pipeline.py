"""Cached computations of one source: PCA, 2-D maps, clusterings, metrics, neighbour index.

Why one object per source: every callback asks for results keyed by (source fingerprint, step,
parameters); this class computes each once (with a progress line on the server's console),
stores it in the :class:`~celebalab.explorer._cache.ResultCache`, and hands back the array.

The map depends only on the reducer (PCA: first two components; UMAP; t-SNE). The space a
clustering runs in depends on the order: *reduce → cluster* clusters the reduced data (the 95 %
PCA components, or the 2-D UMAP/t-SNE map), *cluster → reduce* clusters the full vectors and the
map only displays the result.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from functools import cached_property
from typing import Any

import numpy as np

from celebalab.explorer import _clustering as clustering
from celebalab.explorer import _metrics as metrics
from celebalab.explorer import _projections as projections
from celebalab.explorer._cache import ResultCache, cache_key
from celebalab.explorer._neighbours import NeighbourIndex, build_neighbour_index
from celebalab.explorer.sources import ExplorerSource

ORDERS = ("reduce_first", "cluster_first")
#: Parameters each clustering method reads (the rest of the UI's values are ignored in its key).
METHOD_PARAMS = {
    "kmeans": ("k",),
    "dbscan": ("eps", "min_samples"),
    "hdbscan": ("min_cluster_size",),
    "hierarchical": ("k",),
}


class SourcePipeline:
    """Lazily computed, disk-cached results for one :class:`ExplorerSource` with embeddings."""

    def __init__(self, *, source: ExplorerSource, cache: ResultCache | None = None) -> None:
        self.source = source
        self.cache = cache if cache is not None else ResultCache(root=source.cache_dir)

    def _cached(self, step: str, params: Mapping[str, Any], compute: Callable[[], np.ndarray]):
        key = cache_key(self.source.fingerprint, step, params)
        found = self.cache.get(key)
        if found is not None:
            return found
        print(f"[explore] {self.source.name}: computing {step} {dict(params)} …", flush=True)
        start = time.perf_counter()
        value = self.cache.get_or_compute(key, compute)
        print(
            f"[explore] {self.source.name}: {step} done in {time.perf_counter() - start:.1f} s",
            flush=True,
        )
        return value

    @property
    def vectors(self) -> np.ndarray:
        """The source's N×D vectors; a ValueError for attribute-only sources."""
        if self.source.vectors is None:
            raise ValueError(f"{self.source.name} has no embeddings")
        return self.source.vectors

    @cached_property
    def _pca_fit(self) -> Any:
        return projections.fit_pca(self.vectors)

    def pca(self) -> tuple[np.ndarray, np.ndarray]:
        """(95 % PCA scores N×k float32, explained variance ratio of every component)."""
        ratios = self._cached("pca-ratios", {}, lambda: self._pca_fit.explained_variance_ratio_)
        k = projections.components_for(ratios)
        scores = self._cached(
            "pca95", {"k": k}, lambda: projections.pca_scores(self._pca_fit, self.vectors, k)
        )
        return scores, ratios

    def map(self, reducer: str) -> np.ndarray:
        """The 2-D map (N×2 float32) of ``reducer``."""
        if reducer not in projections.REDUCERS:
            raise ValueError(f"unknown reducer {reducer!r}; choose one of {projections.REDUCERS}")
        if reducer == "pca":
            return self.pca()[0][:, :2]
        if reducer == "umap":
            return self._cached(
                "umap", {"seed": projections.SEED}, lambda: projections.umap_map(self.vectors)
            )
        return self._cached(
            "tsne", {"seed": projections.SEED}, lambda: projections.tsne_map(self.pca()[0])
        )

    def cluster_space(self, reducer: str, order: str) -> np.ndarray:
        """The data a clustering runs in for ``reducer`` and ``order`` (see module docstring)."""
        if order not in ORDERS:
            raise ValueError(f"unknown order {order!r}; choose one of {ORDERS}")
        if order == "cluster_first":
            return self.vectors
        return self.pca()[0] if reducer == "pca" else self.map(reducer)

    def label_params(self, reducer: str, order: str, method: str, params: Mapping[str, Any]):
        """The cache parameters of one clustering (only what changes its result)."""
        if method not in METHOD_PARAMS:
            raise ValueError(f"unknown clustering method {method!r}")
        space = "vectors" if order == "cluster_first" else reducer
        chosen = {p: params[p] for p in METHOD_PARAMS[method]}
        return {"space": space, "method": method, "version": clustering.ALGORITHM_VERSION, **chosen}

    def labels(
        self, reducer: str, order: str, method: str, params: Mapping[str, Any]
    ) -> np.ndarray:
        """Cluster labels (N,) int32 for the chosen reducer, order, method and parameters."""
        key_params = self.label_params(reducer, order, method, params)
        space = self.cluster_space(reducer, order)
        return self._cached(
            "labels", key_params, lambda: clustering.cluster_labels(space, method, params)
        )

    def silhouette(self, reducer: str, order: str, method: str, params: Mapping[str, Any]) -> float:
        """Silhouette of that clustering in its space (sampled; NaN when undefined)."""
        key_params = self.label_params(reducer, order, method, params)
        labels = self.labels(reducer, order, method, params)
        space = self.cluster_space(reducer, order)
        value = self._cached(
            "silhouette",
            key_params,
            lambda: np.array([metrics.clustering_silhouette(space, labels)]),
        )
        return float(value[0])

    @cached_property
    def index(self) -> NeighbourIndex:
        """Nearest-neighbour index over the vectors (built on first use, kept in memory)."""
        return build_neighbour_index(np.asarray(self.vectors), self.source.embedding_set)

    def summary(self) -> dict[str, Any]:
        """Precomputed numbers of the metrics box (images, identities, dim, PCA, kNN accuracy)."""
        meta = self.source.meta
        known = meta["identity"][meta["identity"] >= 0]
        out: dict[str, Any] = {
            "images": len(meta),
            "identities": int(known.nunique()),
            "dim": None,
            "pca_components": None,
            "pca_variance_2d": None,
            "pca_variance_kept": None,
            "knn_accuracy": None,
        }
        if self.source.vectors is None:
            return out
        scores, ratios = self.pca()
        knn = self._cached(
            "knn-accuracy",
            {"sample": metrics.KNN_QUERIES},
            lambda: np.array(
                [
                    metrics.identity_knn_accuracy(
                        self.index, self.vectors, meta["identity"].to_numpy()
                    )
                ]
            ),
        )
        k = scores.shape[1]
        out.update(
            dim=int(self.vectors.shape[1]),
            pca_components=k,
            pca_variance_2d=float(ratios[:2].sum()),
            pca_variance_kept=float(ratios[:k].sum()),
            knn_accuracy=None if math.isnan(knn[0]) else float(knn[0]),
        )
        return out
