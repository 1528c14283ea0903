"""Nearest-neighbour search over an embedding set: exact, or FAISS PQ fast-scan/IVF/HNSW.

Why these settings (measured on this project's 2-core machine, see ``bench_retrieval.py``):

- **Exact, few queries** (at most :data:`FEW_QUERIES`, inner product): one BLAS product
  ``queries @ vectorsᵀ`` over the memory-mapped vectors (no copy) + ``argpartition``. The scan
  is memory-bound; on an idle machine BLAS reads the gallery fastest (200,000 × 512: 10.4 ms,
  ``faiss.knn`` 15.5 ms on one thread, 23 ms on two). Under load from other processes the
  single-threaded ``faiss.knn`` measured faster; squared-L2 sets keep ``faiss.knn``.
- **Exact, many queries**: ``faiss.knn`` with every core (FAISS's BLAS-blocked search), which
  measured faster than our own GEMM blocks and NumPy's matmul by blocks of queries.
- **Approximate, default** (``pq``, what ``auto`` picks above :data:`AUTO_EXACT_MAX` vectors):
  a scan of 4-bit product-quantizer codes (``IndexPQFastScan``, one sub-quantizer per 8
  dimensions: 32 bytes a 512-d vector) returns ``factor·k`` candidates, re-ranked exactly
  against the set's own vectors, so distances are exact. On the bench's 200,000 × 512
  face-like gallery it measured p50 0.15 ms at recall@10 1.0 after a 3-6 s build, and holds
  6 MiB of codes; IVF needed 2 ms for 0.96 (nprobe 192 of 1,789 lists) and HNSW 0.23 ms for
  0.99 only after a 200 s build (efConstruction 100), both holding a copy of the vectors.
- **Approximate, others** (``ivf``, ``hnsw``): ``IndexIVFFlat`` with ``4·√N`` lists, or
  ``IndexHNSWFlat``. For every approximate kind the search setting (re-rank ``factor``,
  ``nprobe``, ``efSearch``) is chosen at build time as the smallest value whose recall@10
  against exact search reaches ``target_recall`` on a sample of the set's own vectors, and is
  stored with the index. When no setting reaches it (a tightly packed set, where the codes
  cannot tell neighbours apart), the index searches exactly and ``fallback_`` says why.

Distances: ``metric="ip"`` (unit vectors) returns the cosine distance ``1 − ⟨q, x⟩``;
``metric="l2"`` the Euclidean distance. Smaller is closer in both.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from celebalab.errors import CelebalabError
from celebalab.io import atomic_path, write_json_atomic
from celebalab.options import Interval, OneOf, Options, option

INDEX_KINDS: tuple[str, ...] = ("auto", "exact", "pq", "ivf", "hnsw")
METRICS: tuple[str, ...] = ("ip", "l2")
#: ``auto`` searches exactly up to this many vectors, ``pq`` above (a 200,000 × 512 exact query
#: takes ~15 ms on one core, the PQ scan plus re-rank ~0.15 ms after a 3-6 s build).
AUTO_EXACT_MAX = 100_000
#: PQ fast-scan codes: 4 bits per sub-quantizer (16 centroids), about 8 dimensions each.
_PQ_BITS = 4
_PQ_DIMS_PER_CODE = 8
_PQ_TRAIN_MAX = 65_536
_RERANK_FACTORS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32)
#: HNSW build effort. On the bench's 200,000 × 512 gallery (M 32, held-out recall@10): 40
#: built in 40 s and needed efSearch 64 for 0.962; 64 built in 50-122 s (by the load) and
#: reached 0.964 at efSearch 32, 0.996 at 64; 100 took 198 s for 0.991 at 32.
_HNSW_EF_CONSTRUCTION = 64
#: Up to this many queries, exact search is one BLAS product (IP) or FAISS's scan on one thread
#: (L2); above, FAISS on every core.
FEW_QUERIES = 8
_RECALL_SAMPLE = 200
_RECALL_K = 10


class RetrievalError(CelebalabError):
    """A search cannot run: bad parameters, queries of the wrong shape, unreadable index file."""


@contextlib.contextmanager
def _omp_threads(n: int) -> Iterator[None]:
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(n)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


#: Help panel of the index options (``retrieve --help``).
_PANEL = "Index"


@dataclass(frozen=True, kw_only=True)
class IndexSettings(Options):
    """What an :class:`EmbeddingIndex` builds, checked like every command's options
    (:mod:`celebalab.options`); ``retrieve`` has a flag for each but the metric."""

    WHAT = "index"

    kind: str = option("auto", help="Index kind (auto: exact up to 100,000 vectors, else pq).",
                       check=OneOf(INDEX_KINDS), flag="--index", panel=_PANEL)  # fmt: skip
    #: Not on the command line: ``retrieve`` takes the set's (ip for unit vectors, else l2).
    metric: str = option("ip", help="ip: cosine on unit vectors; l2: Euclidean.",
                         check=OneOf(METRICS), cli=False)  # fmt: skip
    nlist: int | None = option(None, help="IVF lists (default 4·√N).", check=Interval(int, 1),
                               panel=_PANEL)  # fmt: skip
    hnsw_m: int = option(32, help="HNSW links per node.", check=Interval(int, 4), panel=_PANEL)
    target_recall: float = option(
        0.95, help="The recall@10 the approximate search settings are chosen for.",
        check=Interval(float, 0, 1, strict=True), panel=_PANEL,
    )  # fmt: skip
    seed: int = option(0, help="Seed of k-means and the recall sample.", check=Interval(int, 0),
                       flag="--index-seed", panel=_PANEL)  # fmt: skip


class EmbeddingIndex:
    """k-nearest-neighbour index over ``N×D`` float32 vectors (scikit-learn style: fit, search).

    Parameters (keyword-only, validated as :class:`IndexSettings`, only stored): ``kind`` in
    :data:`INDEX_KINDS`; ``metric`` ``"ip"`` (cosine on unit vectors) or ``"l2"``; ``nlist`` IVF
    lists (default ``4·√N``); ``hnsw_m`` HNSW links per node; ``target_recall`` the recall@10
    the approximate search settings are chosen for; ``seed`` for k-means and the recall sample.
    """

    def __init__(
        self,
        *,
        kind: str = "auto",
        metric: str = "ip",
        nlist: int | None = None,
        hnsw_m: int = 32,
        target_recall: float = 0.95,
        seed: int = 0,
    ) -> None:
        IndexSettings(kind=kind, metric=metric, nlist=nlist, hnsw_m=hnsw_m,
                      target_recall=target_recall, seed=seed)  # fmt: skip
        self.kind = kind
        self.metric = metric
        self.nlist = nlist
        self.hnsw_m = hnsw_m
        self.target_recall = target_recall
        self.seed = seed

    # ------------------------------------------------------------ fitting

    def fit(self, vectors: np.ndarray) -> EmbeddingIndex:
        """Index ``vectors`` (``N×D`` float32; a memmap is searched in place when exact)."""
        vectors = _as_matrix(vectors, "vectors")
        self.vectors_ = vectors
        self.kind_ = self._resolved_kind(len(vectors))
        self.search_param_ = None
        self.recall_at_10_ = 1.0
        self.faiss_index_ = None
        self.fallback_: str | None = None
        if self.kind_ != "exact":
            self.faiss_index_ = self._build_approximate(vectors)
            self.search_param_, self.recall_at_10_ = self._tune(vectors)
            if self.recall_at_10_ < self.target_recall:
                self._fall_back_to_exact()
        return self

    def _fall_back_to_exact(self) -> None:
        """Search exactly: no search setting of the approximate kind reached the target."""
        self.fallback_ = (
            f"index {self.kind_} reached recall@10 {self.recall_at_10_:.3f} at best, below its "
            f"target {self.target_recall}; searching exactly instead"
        )
        self.kind_, self.faiss_index_ = "exact", None
        self.search_param_, self.recall_at_10_ = None, 1.0

    def _resolved_kind(self, n: int) -> str:
        if self.kind == "auto":
            return "exact" if n <= AUTO_EXACT_MAX else "pq"
        return self.kind

    def _faiss_metric(self) -> int:
        import faiss

        return faiss.METRIC_INNER_PRODUCT if self.metric == "ip" else faiss.METRIC_L2

    def _build_approximate(self, vectors: np.ndarray) -> Any:
        import faiss

        n, d = vectors.shape
        if self.kind_ == "pq":
            index = _pq_fast_scan(vectors, self._faiss_metric(), self.seed)
        elif self.kind_ == "hnsw":
            index = faiss.IndexHNSWFlat(d, self.hnsw_m, self._faiss_metric())
            index.hnsw.efConstruction = _HNSW_EF_CONSTRUCTION
        else:
            nlist = self.nlist or max(1, min(n // 39, int(4 * math.sqrt(n))))
            quantizer = faiss.IndexFlat(d, self._faiss_metric())
            index = faiss.IndexIVFFlat(quantizer, d, nlist, self._faiss_metric())
            index.cp.seed = self.seed
            index.cp.niter = 10  # k-means iterations: the lists only route queries
            sample = _sample_rows(n, min(n, 40 * nlist), self.seed)  # FAISS asks for >= 39/list
            index.train(np.ascontiguousarray(vectors[sample]))
        for start in range(0, n, 65_536):
            index.add(np.ascontiguousarray(vectors[start : start + 65_536]))
        return index

    def _tune(self, vectors: np.ndarray) -> tuple[int, float]:
        """Smallest re-rank factor / nprobe / efSearch reaching ``target_recall`` (recall@10).

        The sample's queries are vectors of the set; each one's own row is left out of both
        rankings, so a query finding itself does not flatter the recall of new queries.
        """
        rows = _sample_rows(len(vectors), min(_RECALL_SAMPLE, len(vectors)), self.seed + 1)
        queries = np.ascontiguousarray(vectors[rows])
        k = min(_RECALL_K + 1, len(vectors))
        truth = _without_self(self._exact(queries, k)[1], rows)
        if self.kind_ == "pq":
            candidates = sorted({min(f, math.ceil(len(vectors) / k)) for f in _RERANK_FACTORS})
        elif self.kind_ == "hnsw":
            candidates = [16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512]
        else:
            nlist = self.faiss_index_.nlist
            candidates = sorted({min(nlist, p) for p in (1, 2, 4, 8, 12, 16, 24, 32, 48, 64,
                                                          96, 128, 192, 256, nlist)})  # fmt: skip
        recall = 0.0
        for value in candidates:
            self.search_param_ = value
            found = _without_self(self._approximate(queries, k)[1], rows)
            recall = _recall(truth, found)
            if recall >= self.target_recall:
                return value, recall
        return candidates[-1], recall

    # ------------------------------------------------------------ searching

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest indexed vectors of each query.

        ``queries``: ``Q×D`` (or ``D``) float. Returns ``(distances Q×k float32, indices Q×k
        int64)``, nearest first; ``k`` is capped at the index size. Distances as in the module
        docstring (cosine distance for ``ip``, Euclidean for ``l2``).
        """
        if not hasattr(self, "vectors_"):
            raise RetrievalError("index is not fitted: call fit(vectors) first")
        queries = _as_matrix(np.atleast_2d(queries), "queries")
        if queries.shape[1] != self.vectors_.shape[1]:
            raise RetrievalError(
                f"queries have dimension {queries.shape[1]}, the index {self.vectors_.shape[1]}"
            )
        if k < 1:
            raise RetrievalError(f"k must be >= 1, got {k}")
        k = min(k, len(self.vectors_))
        if self.kind_ == "exact":
            scores, idx = self._exact(queries, k)
        else:
            scores, idx = self._approximate(queries, k)
        return self._distances(scores), idx

    def _exact(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Raw FAISS-convention scores (IP, or squared L2) and indices, exact."""
        import faiss

        if self.metric == "ip" and len(queries) <= FEW_QUERIES and k < len(self.vectors_):
            return _matmul_top_k(self.vectors_, queries, k)
        with _omp_threads(1 if len(queries) <= FEW_QUERIES else _cores()):
            return faiss.knn(queries, self.vectors_, k, metric=self._faiss_metric())

    def _approximate(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        index = self.faiss_index_
        depth = k
        if self.kind_ == "pq":
            depth = min(len(self.vectors_), int(self.search_param_) * k)
        elif self.kind_ == "hnsw":
            index.hnsw.efSearch = max(int(self.search_param_), k)
        else:
            index.nprobe = int(self.search_param_)
        threads = 1 if len(queries) <= FEW_QUERIES else _cores()
        with _omp_threads(threads):
            scores, idx = index.search(queries, depth)
        if self.kind_ == "pq":
            return self._rerank(queries, idx, k)
        return scores, idx

    def _rerank(
        self, queries: np.ndarray, candidates: np.ndarray, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Exact FAISS-convention scores of each query's candidate rows, the best ``k`` first.

        The vectors are gathered from the set itself (the memmap), so the index keeps only the
        compact codes; by blocks of queries, so the gathered rows stay a few MiB.
        """
        scores = np.empty((len(queries), k), np.float32)
        indices = np.empty((len(queries), k), np.int64)
        block = max(1, 8192 // candidates.shape[1])
        for lo in range(0, len(queries), block):
            rows = candidates[lo : lo + block]
            gathered = self.vectors_[rows]  # B × depth × D
            q = queries[lo : lo + block, None, :]
            if self.metric == "ip":
                exact = np.matmul(gathered, q.transpose(0, 2, 1))[:, :, 0]
            else:
                exact = np.square(gathered - q).sum(axis=2)
            best, order = _top_k(exact, k, largest=self.metric == "ip")
            scores[lo : lo + block] = best
            indices[lo : lo + block] = np.take_along_axis(rows, order, 1)
        return scores, indices

    def _distances(self, scores: np.ndarray) -> np.ndarray:
        if self.metric == "ip":
            return (1.0 - scores).astype(np.float32)
        return np.sqrt(np.maximum(scores, 0)).astype(np.float32)

    # ------------------------------------------------------------ persistence

    def settings(self) -> dict[str, Any]:
        """What defines the index besides the vectors (the persistence key)."""
        return {"kind": self.kind, "metric": self.metric, "nlist": self.nlist,
                "hnsw_m": self.hnsw_m, "target_recall": self.target_recall,
                "seed": self.seed}  # fmt: skip

    def save(self, path: Path, fingerprint: str) -> None:
        """Write the FAISS index (approximate kinds) and a JSON sidecar, atomically."""
        import faiss

        sidecar = {
            "settings": self.settings(),
            "fingerprint": fingerprint,
            "kind": self.kind_,
            "search_param": self.search_param_,
            "recall_at_10": self.recall_at_10_,
            "fallback": self.fallback_,
        }
        if self.faiss_index_ is not None:
            with atomic_path(path) as tmp:
                faiss.write_index(self.faiss_index_, str(tmp))
        write_json_atomic(path.with_suffix(".json"), sidecar)

    def load(self, path: Path, vectors: np.ndarray, fingerprint: str) -> bool:
        """Restore a saved index built from the same vectors; False when absent or stale."""
        import faiss

        sidecar_path = path.with_suffix(".json")
        try:
            sidecar = json.loads(sidecar_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        if sidecar.get("fingerprint") != fingerprint or sidecar.get("settings") != self.settings():
            return False
        self.vectors_ = _as_matrix(vectors, "vectors")
        self.kind_ = sidecar["kind"]
        self.search_param_ = sidecar["search_param"]
        self.recall_at_10_ = sidecar["recall_at_10"]
        self.fallback_ = sidecar.get("fallback")
        self.faiss_index_ = None
        if self.kind_ != "exact":
            try:
                self.faiss_index_ = faiss.read_index(str(path))
            except RuntimeError:
                return False
        return True


def build_index(
    emb: Any,
    *,
    by: str = "embedding",
    kind: str = "auto",
    persist: bool = True,
    **params: Any,
) -> EmbeddingIndex:
    """A fitted :class:`EmbeddingIndex` over an :class:`~celebalab.embeddings.EmbeddingSet`.

    ``by="embedding"`` indexes the vectors (inner product when the set is unit-norm, else L2);
    ``by="attributes"`` the predicted attribute probabilities with Euclidean distance (seed
    002's retrieval). Approximate indexes are saved under ``EMB/index/`` keyed by the set's
    fingerprint and the settings, reloaded when both match and rebuilt otherwise (stale
    files of the same settings are removed). ``params`` go to :class:`EmbeddingIndex`.
    """
    vectors = search_vectors(emb, by)
    metric = params.pop("metric", search_metric(emb, by))
    index = EmbeddingIndex(kind=kind, metric=metric, **params)
    if not persist or index._resolved_kind(len(vectors)) == "exact":
        return index.fit(vectors)
    from celebalab.embeddings.store import INDEX_DIR

    settings = json.dumps({"by": by, **index.settings()}, sort_keys=True).encode()
    prefix = f"{by}-{kind}-{hashlib.sha256(settings).hexdigest()[:12]}"
    folder = Path(emb.path) / INDEX_DIR
    path = folder / f"{prefix}-{emb.fingerprint[:16]}.faiss"
    if index.load(path, vectors, emb.fingerprint):
        return index
    index.fit(vectors)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob(f"{prefix}-*"):
        stale.unlink()
    index.save(path, emb.fingerprint)
    return index


def search_metric(emb: Any, by: str) -> str:
    """Metric a search ``by`` runs with: inner product on a unit-norm set's vectors, else L2."""
    return "ip" if by == "embedding" and emb.normalised else "l2"


def search_vectors(emb: Any, by: str) -> np.ndarray:
    """The vectors a search ``by`` embedding or attributes runs over."""
    if by == "embedding":
        return emb.vectors
    if by == "attributes":
        probs = emb.probabilities()
        if probs is None:
            raise RetrievalError(
                f"{emb.path}: --by attributes needs predicted attribute probabilities; this set "
                "has none (extract it from an attribute classifier run)"
            )
        return probs
    raise RetrievalError(f"--by must be 'embedding' or 'attributes', not {by!r}")


# ---------------------------------------------------------------- helpers


def _as_matrix(array: np.ndarray, what: str) -> np.ndarray:
    """C-contiguous float32 plain ``ndarray`` (a memmap stays mapped: a view, not a copy).

    Plain, because pytorch-metric-learning imports ``faiss.contrib.torch_utils``, whose
    ``faiss.knn`` treats anything whose type is not exactly ``np.ndarray`` as a torch tensor.
    """
    array = np.asarray(array)
    if array.ndim != 2 or array.shape[0] == 0:
        raise RetrievalError(f"{what} must be a non-empty 2-d array, got shape {array.shape}")
    if array.dtype != np.float32 or not array.flags.c_contiguous:
        array = np.ascontiguousarray(array, dtype=np.float32)
    if not np.isfinite(array[: min(len(array), 4096)]).all():
        raise RetrievalError(f"{what} contain NaN or infinite values")
    return array


def _pq_fast_scan(vectors: np.ndarray, metric: int, seed: int) -> Any:
    """A trained, empty ``IndexPQFastScan``: it will hold codes only, never the vectors."""
    import faiss

    n, d = vectors.shape
    if n < 2**_PQ_BITS:
        raise RetrievalError(f"a 'pq' index needs at least {2**_PQ_BITS} vectors, got {n}")
    m = next(m for m in range(math.ceil(d / _PQ_DIMS_PER_CODE), d + 1) if d % m == 0)
    index = faiss.IndexPQFastScan(d, m, _PQ_BITS, metric)
    index.pq.cp.seed = seed
    index.pq.cp.min_points_per_centroid = 1  # small sets: rough codebooks, the re-rank mends
    sample = _sample_rows(n, min(n, _PQ_TRAIN_MAX), seed)
    # One thread: 64 tiny k-means (16 centroids, 4,096 points) are all OpenMP overhead, which
    # measured 7-20x slower with two threads on two loaded cores (0.7 s with one).
    with _omp_threads(1):
        index.train(np.ascontiguousarray(vectors[sample]))
    return index


def _matmul_top_k(
    vectors: np.ndarray, queries: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` inner products of a few queries: one BLAS product over all cores + partition.

    Measured on 200,000 × 512 (2 cores): 10.4 ms against 15.5 ms for ``faiss.knn`` on one
    thread and 23 ms on two; the scan is memory-bound and BLAS reads the gallery fastest.
    """
    return _top_k(queries @ vectors.T, k, largest=True)


def _top_k(scores: np.ndarray, k: int, *, largest: bool) -> tuple[np.ndarray, np.ndarray]:
    """(best ``k`` scores, their column positions) of each row of ``scores``, best first."""
    keyed = -scores if largest else scores
    if k < scores.shape[1]:
        top = np.argpartition(keyed, k - 1, axis=1)[:, :k]
    else:
        top = np.broadcast_to(np.arange(scores.shape[1]), scores.shape)
    order = np.take_along_axis(top, np.argsort(np.take_along_axis(keyed, top, 1), 1, "stable"), 1)
    return np.take_along_axis(scores, order, 1), order


def _without_self(indices: np.ndarray, rows: np.ndarray) -> list[list[int]]:
    """Each ranking without its query's own row, cut to one fewer than searched."""
    width = indices.shape[1] - 1
    return [
        [int(i) for i in ranked if i != row][:width]
        for ranked, row in zip(indices, rows, strict=True)
    ]


def _recall(truth: list[list[int]], found: list[list[int]]) -> float:
    hits = sum(len(set(t) & set(f)) for t, f in zip(truth, found, strict=True))
    return float(hits / max(1, sum(len(t) for t in truth)))


def _sample_rows(n: int, m: int, seed: int) -> np.ndarray:
    return np.sort(np.random.default_rng(seed).choice(n, size=m, replace=False))


def _cores() -> int:
    import os

    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1
