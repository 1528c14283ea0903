"""Nearest faces by cosine similarity: the retrieval index when it is installed, else exact NumPy.

The explorer needs one operation, ``search(queries, k) -> (distances, indices)``; this module
gives it through :func:`celebalab.retrieval.build_index` when that package exists, and otherwise
through an exact, chunked matrix product over L2-normalised vectors (same interface, same
results, slower on 200k faces).
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

_CHUNK = 16384


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

    def __init__(self, *, vectors: np.ndarray) -> None:
        self.vectors = vectors
        self._unit = normalise(vectors)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(distances Q×k float32, indices Q×k int64) of the ``k`` nearest rows of each query."""
        unit_q = normalise(np.atleast_2d(queries))
        k = min(k, len(self._unit))
        best_sim = np.full((len(unit_q), 0), -np.inf, dtype=np.float32)
        best_idx = np.zeros((len(unit_q), 0), dtype=np.int64)
        for start in range(0, len(self._unit), _CHUNK):
            sims = unit_q @ self._unit[start : start + _CHUNK].T
            idx = np.broadcast_to(np.arange(start, start + sims.shape[1]), sims.shape)
            best_sim = np.concatenate([best_sim, sims], axis=1)
            best_idx = np.concatenate([best_idx, idx], axis=1)
            keep = np.argsort(-best_sim, axis=1, kind="stable")[:, :k]
            best_sim = np.take_along_axis(best_sim, keep, axis=1)
            best_idx = np.take_along_axis(best_idx, keep, axis=1)
        return (1.0 - best_sim).astype(np.float32), best_idx


def build_neighbour_index(vectors: np.ndarray, embedding_set: Any = None) -> NeighbourIndex:
    """The retrieval package's index over ``embedding_set`` when both exist, else exact search."""
    if embedding_set is not None:
        try:
            from celebalab.retrieval import build_index
        except ImportError:
            pass
        else:
            return build_index(embedding_set)
    return ExactCosineIndex(vectors=vectors)
