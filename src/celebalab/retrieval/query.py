"""``celebalab retrieve``: the nearest faces of query faces in an embedding set.

A query is an image id of the set (its stored vector; the image itself is left out of its own
results) or a new image file, run through the set's model with the crop and resize the model
was trained with. ``by="attributes"`` ranks by the Euclidean distance between predicted
attribute-probability vectors (seed 002's retrieval); ``where`` keeps only the faces whose
labels match (e.g. ``Smiling=1,Eyeglasses=0``; also ``identity=…``, ``partition=test``) and is
searched exactly over those faces.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from celebalab.datasets.schema import ATTRIBUTE_NAMES, PARTITION_CODES
from celebalab.errors import CelebalabError
from celebalab.options import Interval, OneOf, Options, option
from celebalab.retrieval.index import (
    EmbeddingIndex,
    IndexSettings,
    build_index,
    search_metric,
    search_vectors,
)

#: What faces are ranked by: the set's vectors, or its predicted attribute probabilities.
BY: tuple[str, ...] = ("embedding", "attributes")


@dataclass(frozen=True, kw_only=True)
class RetrieveOptions(Options):
    """``celebalab retrieve``'s options (beside its queries and outputs): what :func:`retrieve`
    takes, and the index it searches (:class:`~celebalab.retrieval.index.IndexSettings`)."""

    WHAT = "retrieve"

    k: int = option(10, help="Neighbours per query.", check=Interval(int, 1), flag="--k",
                    panel="Query")  # fmt: skip
    by: str = option("embedding", help="What faces are ranked by (attributes: the predicted "
                     "attribute probabilities).", check=OneOf(BY), panel="Query")  # fmt: skip
    where: str | None = option(None, help="Label filter, e.g. Smiling=1,Eyeglasses=0,"
                               "partition=test.", panel="Query")  # fmt: skip
    index: IndexSettings = field(default_factory=IndexSettings)

    def index_params(self) -> dict[str, Any]:
        """The index settings as :func:`retrieve` takes them (the metric stays the set's)."""
        settings = self.index.to_dict()
        del settings["metric"]
        return settings


class QueryError(CelebalabError):
    """A query is neither an image of the set nor a readable image file, or a filter is bad."""


@dataclass
class Query:
    """One resolved query: its vector and where it came from."""

    text: str
    vector: np.ndarray
    row: int | None = None  # row in the set when the query is one of its images
    path: Path | None = None  # image file of the query, when known
    identity: int = -1


@dataclass
class RetrievalResult:
    """Ranked neighbours of each query (``neighbours[q]``: dicts with rank, image_id, …)."""

    by: str
    k: int
    where: dict[str, int]
    queries: list[Query]
    neighbours: list[list[dict[str, Any]]]
    index_kind: str
    skipped: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what changed the request, in words

    def to_json(self) -> dict[str, Any]:
        """JSON document of the result (queries, their ranked neighbours, settings)."""
        return {
            "by": self.by, "k": self.k, "where": self.where, "index": self.index_kind,
            "queries": [
                {"query": q.text, "image_id_in_set": q.row is not None, "identity": q.identity,
                 "neighbours": n}
                for q, n in zip(self.queries, self.neighbours, strict=True)
            ],
            "unreadable_queries": self.skipped, "notes": self.notes,
        }  # fmt: skip


def parse_where(text: str | None) -> dict[str, int]:
    """``"Smiling=1,Eyeglasses=0"`` → ``{"Smiling": 1, "Eyeglasses": 0}`` (validated)."""
    from celebalab.datasets.schema import unknown_name_message

    if not text:
        return {}
    out: dict[str, int] = {}
    for part in text.split(","):
        name, sep, value = (s.strip() for s in part.partition("="))
        if not sep:
            raise QueryError(f"--where {text!r}: expected NAME=VALUE pairs separated by commas")
        if name == "partition":
            if value not in PARTITION_CODES:
                raise QueryError(f"--where partition={value}: use train, val or test")
            code = PARTITION_CODES[value]
        elif name == "identity":
            if not value.lstrip("-").isdigit():
                raise QueryError(f"--where identity={value}: not an integer")
            code = int(value)
        elif name in ATTRIBUTE_NAMES:
            if value not in ("0", "1"):
                raise QueryError(f"--where {name}={value}: attributes are 0 or 1")
            code = int(value)
        else:
            names = (*ATTRIBUTE_NAMES, "identity", "partition")
            raise QueryError("--where: " + unknown_name_message("label", name, names))
        if out.get(name, code) != code:
            raise QueryError(f"--where {text!r}: {name} given twice with different values")
        out[name] = code
    return out


def retrieve(
    emb: Any,
    queries: Sequence[str | Path],
    k: int = 10,
    *,
    by: str = "embedding",
    where: str | dict[str, int] | None = None,
    index: EmbeddingIndex | None = None,
    kind: str = "auto",
    **index_params: Any,
) -> RetrievalResult:
    """Nearest neighbours of ``queries`` in the embedding set ``emb`` (a set or its folder).

    ``index`` reuses a fitted index (else :func:`build_index` loads or builds one of ``kind``,
    with ``index_params``: ``nlist``, ``hnsw_m``, ``target_recall``, ``seed``). Returns a
    :class:`RetrievalResult`; unreadable query files are listed in ``skipped`` (an error when no
    query is left).
    """
    from celebalab.embeddings import load_embeddings

    if k < 1:
        raise QueryError(f"--k must be >= 1, got {k}")
    emb = load_embeddings(emb) if isinstance(emb, (str, Path)) else emb
    filters = parse_where(where) if not isinstance(where, dict) else where
    notes: list[str] = []  # what changed the request, in words (several faces in a photo, …)
    resolved, skipped = resolve_queries(emb, queries, by, notes)
    allowed = _allowed_rows(emb, filters)
    if allowed is None:
        index = index or build_index(emb, by=by, kind=kind, **index_params)
        subset = None
    else:
        if len(allowed) == 0:
            raise QueryError(f"--where {filters}: no face of the set matches")
        subset = allowed
        index = EmbeddingIndex(kind="exact", metric=search_metric(emb, by)).fit(
            np.ascontiguousarray(search_vectors(emb, by)[allowed])
        )
    if index.fallback_:
        notes.append(index.fallback_)
    searched = len(emb) if subset is None else len(subset)
    if k > searched:
        matching = " matching --where" if filters else ""
        notes.append(f"--k {k}: only {searched} faces{matching} to search; k capped at {searched}")
        k = searched
    neighbours = [_neighbours(emb, index, q, k, subset) for q in resolved]
    return RetrievalResult(by=by, k=k, where=filters, queries=resolved, neighbours=neighbours,
                           index_kind=index.kind_, skipped=skipped, notes=notes)  # fmt: skip


def resolve_queries(
    emb: Any, queries: Sequence[str | Path], by: str, notes: list[str] | None = None
) -> tuple[list[Query], list[dict[str, str]]]:
    """Vectors of the queries: image ids from the set, files through the set's model.

    ``notes`` receives one ``"FILE: note"`` per remark on a query file ("3 faces found; …").
    """
    vectors = search_vectors(emb, by)
    resolved: list[Query | None] = []
    files: list[tuple[int, Path]] = []
    for text in map(str, queries):
        if text in emb:
            row = emb.row_of(text)
            path = emb.image_path(text)
            identity = int(emb.meta["identity"].iloc[row])
            resolved.append(Query(text, np.asarray(vectors[row]), row, path, identity))
        elif Path(text).is_file():
            files.append((len(resolved), Path(text)))
            resolved.append(None)
        else:
            raise QueryError(f"{text}: neither an image id of {emb.path} nor an image file")
    skipped: list[dict[str, str]] = []
    if files:
        paths = [p for _, p in files]
        found = _file_vectors(emb, paths, by, skipped, [] if notes is None else notes)
        for (slot, path), vector in zip(files, found, strict=True):
            if vector is not None:
                resolved[slot] = Query(str(path), vector, None, path)
    kept = [q for q in resolved if q is not None]
    if not kept:
        raise QueryError("no query left: " + "; ".join(f"{s['path']}: {s['reason']}"
                                                        for s in skipped))  # fmt: skip
    return kept, skipped


def _file_vectors(
    emb: Any, paths: list[Path], by: str, skipped: list[dict[str, str]], notes: list[str]
) -> list[np.ndarray | None]:
    """Each file's vector through the set's run, None for an unreadable file or one without a
    face (listed in ``skipped``); remarks such as "2 faces found" go to ``notes``."""
    from celebalab.embeddings.features import file_vectors
    from celebalab.models.run import load_run

    source = emb.info.source
    if source.type != "run" or not source.run:
        raise QueryError(
            f"{paths[0]}: a new image can only be queried in a set extracted from a celebalab "
            f"run; {emb.path} was imported from {source.file} (query an image id instead)"
        )
    run = load_run(source.run)
    remarks: list[tuple[str, str]] = []
    normalise = True if source.normalise is None else source.normalise
    kept, vectors, probs, failed = file_vectors(run, paths, normalise, notes=remarks)
    skipped.extend({"path": p, "reason": r} for p, r in failed)
    notes.extend(f"{p}: {note}" for p, note in remarks)
    values = vectors if by == "embedding" else probs
    if by == "attributes" and probs is None:
        raise QueryError(f"{source['run']}: not an attribute classifier; use --by embedding")
    row_of = {p: i for i, p in enumerate(kept)}
    return [values[row_of[p]] if p in row_of else None for p in paths]


def _allowed_rows(emb: Any, filters: dict[str, int]) -> np.ndarray | None:
    if not filters:
        return None
    mask = np.ones(len(emb), bool)
    for name, value in filters.items():
        mask &= emb.meta[name].to_numpy() == value
    return np.flatnonzero(mask)


def _neighbours(
    emb: Any, index: EmbeddingIndex, query: Query, k: int, subset: np.ndarray | None
) -> list[dict[str, Any]]:
    extra = 1 if query.row is not None else 0
    distances, indices = index.search(query.vector[None, :].astype(np.float32), k + extra)
    rows = indices[0] if subset is None else subset[indices[0]]
    meta = emb.meta
    out = []
    for distance, row in zip(distances[0].tolist(), rows.tolist(), strict=True):
        if row == query.row or row < 0 or len(out) == k:
            continue
        identity = int(meta["identity"].iloc[row])
        out.append({
            "rank": len(out) + 1, "image_id": str(meta["image_id"].iloc[row]), "row": int(row),
            "distance": round(float(distance), 6), "identity": identity,
            "same_identity": bool(query.identity >= 0 and identity == query.identity),
        })  # fmt: skip
    return out
