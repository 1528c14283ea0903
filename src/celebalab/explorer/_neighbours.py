"""Nearest faces by cosine similarity, through the retrieval package's index.

The explorer needs one operation, ``search(queries, k) -> (distances, indices)`` with cosine
distances. A unit-norm embedding set gets :func:`celebalab.retrieval.build_index` (which keeps
approximate indexes of large sets on disk); other vectors are L2-normalised first and searched
by inner product with :class:`celebalab.retrieval.EmbeddingIndex`, queries normalised alike.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np


class NeighbourIndex(Protocol):
    """What the explorer asks of an index."""

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]: ...


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero); float32."""
    data = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(data, axis=1, keepdims=True)
    return data / np.where(norms > 0, norms, 1.0)


class ExactCosineIndex:
    """Exact cosine search; distances are ``1 - cosine similarity``, nearest first."""

    def __init__(self, *, vectors: np.ndarray, kind: str = "exact") -> None:
        from celebalab.retrieval.index import EmbeddingIndex

        self.vectors = vectors
        self._index = EmbeddingIndex(kind=kind, metric="ip").fit(normalise(vectors))

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(distances Q×k float32, indices Q×k int64) of the ``k`` nearest rows of each query."""
        return self._index.search(normalise(np.atleast_2d(queries)), k)


def build_neighbour_index(vectors: np.ndarray, embedding_set: Any = None) -> NeighbourIndex:
    """The retrieval index of a unit-norm ``embedding_set``, else a cosine index of ``vectors``."""
    if embedding_set is not None and embedding_set.normalised:
        from celebalab.retrieval import build_index

        return build_index(embedding_set)
    return ExactCosineIndex(vectors=vectors, kind="auto")
