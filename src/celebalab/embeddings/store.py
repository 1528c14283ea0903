"""The embedding set on disk (format version 1): one folder a reader can memory-map and trust.

Why a folder of plain files: vectors are what every consumer (retrieval, evaluation, the explorer
app) reads in bulk, so they live in one raw float32 file that ``np.memmap`` opens without a
copy; per-image metadata is a Parquet table; the manifest is written last, so its presence
means the set is complete and no reader ever sees a half-written set. Layout of ``EMB/``::

    manifest.json   written last; format_version, kind, dim, count, normalised, source, data,
                    images, attribute_names, has_probabilities, fingerprint
    vectors.f32     float32, C order, count × dim
    meta.parquet    image_id (str), identity (int64, -1 unknown), partition (int8, -1 unknown),
                    the 40 attributes (int8 0/1, -1 missing), prob_<attribute> (float32, optional)
    index/          persisted FAISS indexes (celebalab.retrieval), keyed by fingerprint + settings
    .work/          only while ``embed extract`` runs (resumable units: :func:`save_unit`)
    eval_<split>/   ``embed evaluate`` outputs (derived: removed when the set is replaced)

Creating, resuming and replacing a set follow :mod:`celebalab.rundir` (:data:`EMBEDDING_SET`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from celebalab import __version__
from celebalab.datasets.annotations import is_plain_file_name
from celebalab.datasets.schema import ATTRIBUTE_NAMES
from celebalab.embeddings.info import EmbeddingSetInfo
from celebalab.errors import CelebalabError, DataFormatError
from celebalab.io import atomic_path, read_json_object, write_json_atomic
from celebalab.rundir import RunKind

FORMAT_VERSION = 1
KIND = "celebalab-embeddings"
MANIFEST = "manifest.json"
VECTORS = "vectors.f32"
META = "meta.parquet"
INDEX_DIR = "index"
PROB_PREFIX = "prob_"
WORK_DIR = ".work"
#: What a set's folder holds: ``--overwrite`` replaces exactly these, never other files.
EMBEDDING_SET = RunKind(
    "embedding set", manifest=MANIFEST, outputs=(VECTORS, META, INDEX_DIR, WORK_DIR),
    derived=("eval_*",),
)  # fmt: skip


class EmbeddingSetError(CelebalabError):
    """An embedding set folder is missing, incomplete, corrupt or in the way of a new one."""


@dataclass(frozen=True)
class EmbeddingSet:
    """A complete embedding set read from disk: memory-mapped vectors plus per-image metadata.

    ``vectors`` is ``N×D`` float32 (read-only memmap); ``meta`` has one row per vector, in the
    same order (columns in the module docstring); ``manifest`` the parsed ``manifest.json`` as
    read and ``info`` the same as a typed record (read this one).
    """

    path: Path
    manifest: dict[str, Any]
    vectors: np.ndarray
    meta: pd.DataFrame

    @cached_property
    def info(self) -> EmbeddingSetInfo:
        """``manifest.json`` as a typed record."""
        return EmbeddingSetInfo.from_json(self.manifest, self.path / MANIFEST)

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the vectors and metadata: changes whenever the set's content changes."""
        return self.info.fingerprint

    @property
    def dim(self) -> int:
        """Vector dimension D."""
        return self.info.dim

    @property
    def normalised(self) -> bool:
        """Whether every vector has unit L2 norm (cosine similarity = inner product)."""
        return self.info.normalised

    @property
    def image_dir(self) -> Path | None:
        """Folder holding the image files named by ``meta.image_id``, when known."""
        return Path(self.info.images) if self.info.images else None

    def image_path(self, image_id: str) -> Path | None:
        """The file of ``image_id`` inside :attr:`image_dir`; None without a folder, or for a
        name that is no plain file name (``../x``, ``/etc/x``): nothing outside is ever read."""
        folder = self.image_dir
        if folder is None or not is_plain_file_name(str(image_id)):
            return None
        return folder / str(image_id)

    @property
    def attribute_names(self) -> list[str]:
        """Attribute columns of ``meta`` (CelebA's 40, in schema order)."""
        return list(self.info.attribute_names)

    @property
    def image_ids(self) -> list[str]:
        """``meta.image_id`` as a list."""
        return self.meta["image_id"].tolist()

    @cached_property
    def _row_of(self) -> dict[str, int]:
        return {image_id: i for i, image_id in enumerate(self.meta["image_id"])}

    def __contains__(self, image_id: object) -> bool:
        return image_id in self._row_of

    def row_of(self, image_id: str) -> int:
        """Row of ``image_id``; a clear error when the set has no such image."""
        try:
            return self._row_of[image_id]
        except KeyError:
            raise EmbeddingSetError(f"{self.path}: no image {image_id!r} in this set") from None

    def probabilities(self) -> np.ndarray | None:
        """Predicted attribute probabilities ``N×40`` float32 (attribute order), or None.

        Built from ``meta`` once per set and shared (read-only): retrieval asks for it per query.
        """
        return self._probabilities

    @cached_property
    def _probabilities(self) -> np.ndarray | None:
        if not self.info.has_probabilities:
            return None
        cols = [PROB_PREFIX + name for name in self.attribute_names]
        probs = self.meta[cols].to_numpy(dtype=np.float32)
        probs.flags.writeable = False
        return probs

    def labels(self) -> np.ndarray:
        """Attribute labels ``N×40`` int8 (0/1, -1 missing), attribute order."""
        return self.meta[self.attribute_names].to_numpy(dtype=np.int8)

    def __len__(self) -> int:
        return self.info.count

    def __repr__(self) -> str:
        return f"EmbeddingSet({str(self.path)!r}, count={len(self)}, dim={self.dim})"


def load_embeddings(path: str | Path) -> EmbeddingSet:
    """Open the embedding set in folder ``path`` (vectors memory-mapped, metadata in memory).

    Raises :class:`EmbeddingSetError` (naming the file) for a missing or incomplete set, a
    format version this celebalab cannot read, or files whose sizes disagree with the manifest.
    """
    folder = Path(path)
    manifest = read_manifest(folder)
    info = EmbeddingSetInfo.from_json(manifest, folder / MANIFEST)
    count, dim = info.count, info.dim
    vec_path, meta_path = folder / VECTORS, folder / META
    for needed in (vec_path, meta_path):
        if not needed.is_file():
            raise EmbeddingSetError(f"{needed}: missing from the embedding set (re-create it)")
    expected = count * dim * 4
    actual = vec_path.stat().st_size
    if actual != expected:
        raise EmbeddingSetError(
            f"{vec_path}: {actual} bytes, the manifest says {count}×{dim} float32 "
            f"({expected} bytes); the set is corrupt, re-create it"
        )
    vectors = np.memmap(vec_path, dtype=np.float32, mode="r", shape=(count, dim))
    try:
        meta = pd.read_parquet(meta_path)
    except Exception as err:
        raise EmbeddingSetError(f"{meta_path}: unreadable metadata table ({err})") from None
    if len(meta) != count:
        raise EmbeddingSetError(
            f"{meta_path}: {len(meta)} rows, the manifest says {count}; re-create the set"
        )
    return EmbeddingSet(path=folder, manifest=manifest, vectors=vectors, meta=meta)


def read_manifest(folder: Path) -> dict[str, Any]:
    """Parse and check ``folder/manifest.json`` (kind and format version)."""
    path = folder / MANIFEST
    if not folder.is_dir():
        raise EmbeddingSetError(f"{folder}: embedding set folder not found")
    if not path.is_file():
        raise EmbeddingSetError(
            f"{path}: missing; {folder} is not a complete embedding set (extraction still "
            "running or interrupted? run the same `celebalab embed extract` again to resume)"
        )
    manifest = read_json_object(path, "manifest")
    if manifest.get("kind") != KIND:
        raise DataFormatError(path, f"not a celebalab embedding manifest (kind != {KIND!r})")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise EmbeddingSetError(
            f"{path}: embedding format {manifest.get('format_version')!r}; this celebalab "
            f"{__version__} reads format {FORMAT_VERSION} only (re-create the set)"
        )
    EmbeddingSetInfo.from_json(manifest, path)  # every required key is there
    return manifest


def standard_meta(
    image_ids: Iterable[str],
    identity: Iterable[int] | None = None,
    partition: Iterable[int] | None = None,
    attributes: pd.DataFrame | np.ndarray | None = None,
    probabilities: np.ndarray | None = None,
) -> pd.DataFrame:
    """The ``meta.parquet`` table in its contract dtypes; absent parts become -1 (unknown).

    ``attributes`` holds 0/1 labels in :data:`ATTRIBUTE_NAMES` order (array ``N×40``) or by
    column name (DataFrame); ``probabilities`` is ``N×40`` float (attribute order).
    """
    ids = pd.Series(list(image_ids), dtype=str)
    n = len(ids)
    frame = pd.DataFrame({"image_id": ids.astype(object)})
    frame["identity"] = _column(identity, n, np.int64)
    frame["partition"] = _column(partition, n, np.int8)
    if isinstance(attributes, pd.DataFrame):
        attributes = attributes[list(ATTRIBUTE_NAMES)].to_numpy()
    labels = np.full((n, len(ATTRIBUTE_NAMES)), -1, np.int8)
    if attributes is not None:
        labels[:] = np.asarray(attributes, dtype=np.int8)
    for j, name in enumerate(ATTRIBUTE_NAMES):
        frame[name] = labels[:, j]
    if probabilities is not None:
        probs = np.asarray(probabilities, dtype=np.float32)
        for j, name in enumerate(ATTRIBUTE_NAMES):
            frame[PROB_PREFIX + name] = probs[:, j]
    return frame


def _column(values: Iterable[int] | None, n: int, dtype: type) -> np.ndarray:
    if values is None:
        return np.full(n, -1, dtype)
    return np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype)


def write_embedding_set(
    out: str | Path,
    vector_chunks: Iterable[np.ndarray],
    meta: pd.DataFrame,
    *,
    source: Mapping[str, Any],
    data: Mapping[str, Any] | None = None,
    images: str | Path | None = None,
    extra: Mapping[str, Any] | None = None,
) -> EmbeddingSet:
    """Write vectors (streamed chunk by chunk), metadata, then the manifest; return the set.

    Every file goes through a temporary file beside it and the manifest is written last, so an
    interrupted write leaves no set that :func:`load_embeddings` would accept. The fingerprint
    hashes the vector bytes and the metadata table; ``extra`` keys are added to the manifest.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MANIFEST).unlink(missing_ok=True)
    digest = hashlib.sha256()
    count, dim = 0, None
    norms_ok = True
    with atomic_path(out / VECTORS) as tmp, open(tmp, "wb") as handle:
        for chunk in vector_chunks:
            block = np.ascontiguousarray(chunk, dtype=np.float32)
            if block.ndim != 2:
                raise ValueError(f"vector chunks must be 2-d, got shape {block.shape}")
            if dim is None:
                dim = block.shape[1]
            elif block.shape[1] != dim:
                raise ValueError(f"chunk of dimension {block.shape[1]} after {dim}")
            norms_ok &= bool(np.allclose(np.linalg.norm(block, axis=1), 1.0, atol=1e-3))
            raw = block.tobytes()
            handle.write(raw)
            digest.update(raw)
            count += len(block)
    if count != len(meta):
        raise ValueError(f"{count} vectors but {len(meta)} metadata rows")
    digest.update(pd.util.hash_pandas_object(meta, index=False).to_numpy().tobytes())
    with atomic_path(out / META) as tmp:
        meta.to_parquet(tmp, index=False)
    has_probs = all(PROB_PREFIX + n in meta.columns for n in ATTRIBUTE_NAMES)
    manifest = {
        "format_version": FORMAT_VERSION,
        "kind": KIND,
        "celebalab_version": __version__,
        "dim": int(dim or 0),
        "count": count,
        "normalised": bool(norms_ok and count > 0),
        "source": dict(source),
        "data": dict(data or {"root": None, "fingerprint": None}),
        "images": str(Path(images).resolve()) if images else None,
        "attribute_names": list(ATTRIBUTE_NAMES),
        "has_probabilities": has_probs,
        "fingerprint": digest.hexdigest(),
        **dict(extra or {}),
    }
    write_json_atomic(out / MANIFEST, manifest)
    return load_embeddings(out)


# ---------------------------------------------------------------- work units of an extraction


def pack_unit(
    rows: list, vectors: list, probs: list, skipped: list[tuple[str, str]]
) -> dict[str, np.ndarray]:
    """One finished work unit of ``.work/``: its kept rows, vectors, probabilities (``0×0``
    when the run gives none) and skipped images (``"image_id\treason"``), from per-batch lists."""
    dim = vectors[0].shape[1] if vectors else 0
    return {
        "rows": np.concatenate(rows) if rows else np.zeros(0, np.int64),
        "vectors": np.concatenate(vectors) if vectors else np.zeros((0, dim), np.float32),
        "probs": np.concatenate(probs) if probs else np.zeros((0, 0), np.float32),
        "skipped": np.asarray([f"{i}\t{r}" for i, r in skipped], dtype=str),
    }


def save_unit(path: Path, unit: dict[str, np.ndarray]) -> None:
    """Write one finished unit atomically (a killed process leaves no partial unit)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **unit)
