"""Packed image cache: every present image decoded once into a uint8 memmap M×S×S×3 (``data pack``).

Training at 64 px from JPEGs is decode-bound; reading a memmap is not. Files, in
``cache_dir_for(root)``, named by size and crop (e.g. ``packed_64_center``; see
:mod:`celebalab.datasets.packfiles`):

- ``<name>.u8``            raw uint8 rows, one per image whose file exists, in table order: a
                           partial copy (6,032 of 202,599 images) packs 6,032 rows, so the pack's
                           size, time and memory follow the images present;
- ``<name>.index.parquet`` ``image_id``, ``row`` (the metadata-table row) and ``valid`` (False:
                           the file exists but cannot be decoded) per stored row;
- ``<name>.json``          the manifest, written LAST: a pack without a matching manifest is
                           incomplete and is never read (``PackedImages.open`` returns None). It
                           holds counts (``count`` table rows, ``stored``, ``valid_count``,
                           ``missing``) and the path of the missing list, never the list.

While packing, rows go to ``<name>.u8.partial`` and each finished chunk is appended to
``<name>.progress.log``; an interrupted pack (Ctrl-C, kill -9, a crash) resumes only the missing
chunks. Packs of format 1 (every table row stored, missing images as invalid rows) still open and
are reused while current.

A complete pack whose dataset has changed (different image ids, a file added or removed, or any
image file with a different size or mtime) is stale: ``pack_images`` says so and rebuilds it
from scratch. ``PackedImages.open`` stays cheap and does not stat the images; pass ``image_ids``
to have it reject a pack built for a different id list.

Unreadable images (empty, truncated, not an image) never stop a pack: their rows stay zero,
``valid`` is False and they are listed in the manifest and in ``PackResult.corrupt``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from celebalab import __version__, _progress, stopping
from celebalab.datasets.config import PackOptions
from celebalab.datasets.dataset import Dataset, DatasetLike, open_dataset
from celebalab.datasets.decode import (
    REDUCING_GAP,
    RESAMPLE,
    image_error_text,
    load_resized,
)
from celebalab.datasets.packfiles import (
    PackPaths,
    ProgressLog,
    allocate,
    ids_fingerprint,
    read_json,
)
from celebalab.errors import CelebalabError
from celebalab.io import atomic_path, write_json_atomic

log = logging.getLogger(__name__)

__all__ = ["PackError", "PackPaths", "PackResult", "PackedImages", "ids_fingerprint",
           "open_or_pack", "pack_images"]  # fmt: skip

FORMAT_VERSION = 2
#: Formats ``PackedImages.open`` reads (1: every table row stored).
READABLE_FORMATS = (1, 2)
MAX_CHUNK_SIZE = 256
#: Unreadable images the ``data pack`` command lists (the manifest has them all).
LISTED_CORRUPT = 20


class PackError(CelebalabError):
    """A pack cannot be built (no image present, no room on disk)."""


@dataclass(frozen=True, kw_only=True)
class PackResult:
    """What ``pack_images`` did: output path, rows, unreadable images and speed.

    ``count`` is the metadata table's rows, ``stored`` the rows in the pack (the images
    present), ``missing`` the rows without a file (listed in ``missing_file``). ``seconds`` is
    the whole call (metadata, file checks, decoding, finishing); ``decode_seconds`` only the
    parallel decoding of the missing chunks.
    """

    path: Path
    manifest_path: Path
    size: int
    crop: str
    count: int
    stored: int
    missing: int
    missing_file: Path | None
    corrupt: list[dict[str, str]]
    seconds: float
    decode_seconds: float
    chunks_total: int
    chunks_packed: int
    rows_packed: int
    reused: bool

    @property
    def images_per_second(self) -> float:
        """Images decoded per second of the whole call's wall time (0 when the pack was reused)."""
        return self.rows_packed / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class _Source:
    """The images present of a dataset (pack position → table row) and a fingerprint of them."""

    dataset: Dataset

    @cached_property
    def rows(self) -> np.ndarray:
        """Table rows stored in the pack: those whose image file exists, in table order."""
        return self.dataset.present_rows

    def path(self, position: int) -> str:
        """The file of pack row ``position``."""
        return str(self.dataset.image_path(int(self.rows[position])))

    @cached_property
    def ids_sha256(self) -> str:
        return ids_fingerprint(self.dataset.image_ids.tolist())

    @cached_property
    def files(self) -> dict[str, Any]:
        """Count, total bytes and a hash of (id, size, mtime) of every present image file.

        Missing rows are hashed as ``id\0-`` without a ``stat`` (the same digest as format 1
        packs, which stat every row), so a current older pack is still recognised.
        """
        digest = hashlib.sha256()
        total = missing = 0
        dataset = self.dataset
        for row, image_id in enumerate(dataset.image_ids.tolist()):
            st = _stat(dataset.image_path(row)) if dataset.present[row] else None
            if st is None:
                missing += 1
                digest.update(f"{image_id}\0-\n".encode())
                continue
            total += st.st_size
            digest.update(f"{image_id}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        return {
            "image_dir": str(dataset.image_dir),
            "image_ext": dataset.image_ext,
            "files": len(dataset) - missing,
            "missing": missing,
            "bytes": total,
            "stat_sha256": digest.hexdigest(),
        }


def _stat(path: Path) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None


def _identity(size: int, crop: str, source: _Source) -> dict[str, Any]:
    """Everything a finished pack (of any readable format) must match to be reused."""
    return {
        "size": size,
        "crop": crop,
        "resample": RESAMPLE.name.lower(),
        "reducing_gap": REDUCING_GAP,
        "jpeg_draft": True,
        "count": len(source.dataset),
        "ids_sha256": source.ids_sha256,
        "source": source.files,
    }


def _row_bytes(size: int) -> int:
    return size * size * 3


# ---------------------------------------------------------------- workers


@dataclass(frozen=True)
class _Chunk:
    """One contiguous range of rows, decoded by one worker into its slice of the partial file."""

    index: int
    start: int
    files: list[str]
    data_path: str
    size: int
    crop: str


def _pack_chunk(chunk: _Chunk) -> tuple[int, list[tuple[int, str]]]:
    """Decode ``chunk`` straight into its rows of the memmap; return (chunk index, corrupt rows)."""
    rows = np.memmap(
        chunk.data_path,
        dtype=np.uint8,
        mode="r+",
        offset=chunk.start * _row_bytes(chunk.size),
        shape=(len(chunk.files), chunk.size, chunk.size, 3),
    )
    corrupt: list[tuple[int, str]] = []
    for i, path in enumerate(chunk.files):
        try:
            rows[i] = load_resized(path, chunk.size, chunk.crop)
        except Exception as err:  # any decoder failure marks the row invalid, never stops the pack
            rows[i] = 0
            corrupt.append((i, image_error_text(path, err)))
    rows.flush()
    del rows  # unmap now: the worker's resident memory stays one chunk, whatever N is
    return chunk.index, corrupt


# ---------------------------------------------------------------- packing


@dataclass
class _Job:
    """State of one pack run: which chunks are done and which rows were unreadable."""

    paths: PackPaths
    source: _Source
    size: int
    crop: str
    chunk_size: int
    plan: dict[str, Any]
    log: ProgressLog
    done: dict[int, list[list[Any]]] = field(default_factory=dict)

    @property
    def stored(self) -> int:
        return len(self.source.rows)

    @property
    def n_chunks(self) -> int:
        return -(-self.stored // self.chunk_size)

    def chunks_todo(self) -> list[int]:
        return [c for c in range(self.n_chunks) if c not in self.done]

    def tasks(self, todo: list[int]) -> Iterator[_Chunk]:
        for c in todo:
            start = c * self.chunk_size
            stop = min(start + self.chunk_size, self.stored)
            files = [self.source.path(i) for i in range(start, stop)]
            yield _Chunk(c, start, files, str(self.paths.partial), self.size, self.crop)

    def record(self, chunk_index: int, corrupt: list[tuple[int, str]]) -> None:
        """Note a finished chunk (its rows are flushed): one line appended to the log."""
        bad = [[chunk_index * self.chunk_size + i, reason] for i, reason in corrupt]
        self.done[chunk_index] = bad
        self.log.record(chunk_index, bad)

    def corrupt(self) -> list[dict[str, str]]:
        """``{"image_id", "reason"}`` of every unreadable stored image, in pack order."""
        ids, rows = self.source.dataset.image_ids, self.source.rows
        bad = sorted(entry for c in self.done.values() for entry in c)
        return [{"image_id": str(ids[rows[pos]]), "reason": why} for pos, why in bad]


def _start_job(paths: PackPaths, source: _Source, size: int, crop: str, chunk_size: int) -> _Job:
    """Resume the partial pack if it was started with the same plan, else start a fresh one."""
    plan = {
        **_identity(size, crop, source),
        "format": FORMAT_VERSION,
        "stored": len(source.rows),
        "chunk_size": chunk_size,
    }
    job = _Job(paths, source, size, crop, chunk_size, plan, ProgressLog(paths.progress))
    expected = len(source.rows) * _row_bytes(size)
    done = job.log.resume(plan)
    if done is not None:
        if not paths.partial.exists() and paths.data.exists():
            os.replace(paths.data, paths.partial)  # crashed between the final rename and manifest
        if paths.partial.exists() and paths.partial.stat().st_size == expected:
            job.done = done
            return job
    for stale in (paths.data, paths.partial, paths.index):
        stale.unlink(missing_ok=True)
    paths.drop_older_progress()
    allocate(paths.partial, expected, PackError)
    job.log.start(plan)
    return job


def _run(job: _Job, workers: int) -> tuple[int, int]:
    """Decode every missing chunk, ``workers`` processes in parallel; return (chunks, rows)."""
    todo = job.chunks_todo()
    rows = _rows_in(job, todo)
    bar = _progress.bar(
        total=job.stored, initial=job.stored - rows, unit="img", desc=f"pack {job.size}px"
    )
    workers = max(1, min(workers, len(todo)))
    with bar:
        if workers == 1:
            results: Iterator[tuple[int, list[tuple[int, str]]]] = map(_pack_chunk, job.tasks(todo))
            _collect(job, results, bar)
        else:
            with stopping.worker_pool(workers) as pool:
                _collect(job, pool.imap_unordered(_pack_chunk, job.tasks(todo)), bar)
    return len(todo), rows


def _rows_in(job: _Job, chunks: list[int]) -> int:
    return sum(min(job.chunk_size, job.stored - c * job.chunk_size) for c in chunks)


def _collect(job: _Job, results: Iterator[tuple[int, list[tuple[int, str]]]], bar: Any) -> None:
    for chunk_index, corrupt in results:
        job.record(chunk_index, corrupt)
        bar.update(_rows_in(job, [chunk_index]))
        stopping.check()


def _finish(job: _Job) -> list[dict[str, str]]:
    """Rename the data into place, write the row index, then the manifest, then drop the log."""
    paths, corrupt = job.paths, job.corrupt()
    os.replace(paths.partial, paths.data)
    dataset, rows = job.source.dataset, job.source.rows
    valid = np.ones(len(rows), dtype=bool)
    valid[[pos for c in job.done.values() for pos, _ in c]] = False
    index = pa.table({"image_id": dataset.image_ids[rows], "row": rows, "valid": valid})
    with atomic_path(paths.index) as tmp:
        pq.write_table(index, tmp)
    manifest = {
        **{k: v for k, v in job.plan.items() if k != "chunk_size"},
        "dtype": "uint8",
        "shape": [len(rows), job.size, job.size, 3],
        "data": paths.data.name,
        "index": paths.index.name,
        "valid_count": int(valid.sum()),
        "corrupt": corrupt,
        "missing": dataset.missing_count,
        "missing_list": str(dataset.missing_file) if dataset.missing_count else None,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "celebalab_version": __version__,
    }
    write_json_atomic(paths.manifest, manifest)
    job.log.remove()
    return corrupt


def _complete_manifest(paths: PackPaths, identity: dict[str, Any]) -> dict[str, Any] | None:
    """The manifest if the finished pack on disk (any readable format) matches ``identity``."""
    manifest = read_json(paths.manifest)
    if manifest is None or manifest.get("format") not in READABLE_FORMATS:
        return None
    if {k: manifest.get(k) for k in identity} != identity:
        return None
    if not paths.index.exists() or not paths.data.exists():
        return None
    expected = _stored(manifest) * _row_bytes(identity["size"])
    return manifest if paths.data.stat().st_size == expected else None


def _stored(manifest: dict[str, Any]) -> int:
    """Rows in the pack's data file (format 1 stored every table row)."""
    return int(manifest.get("stored", manifest["count"]))


@_progress.legacy_progress
def pack_images(
    root: DatasetLike,
    size: int,
    crop: str = "center",
    workers: int | None = None,
    *,
    chunk_size: int | None = None,
) -> PackResult:
    """Decode every present image of ``root`` once into the (``size``, ``crop``) packed cache.

    Rows follow the metadata table order, images without a file are not stored (one line says
    how many). Reuses a complete, current pack; resumes an interrupted one;
    rebuilds a stale one. ``workers`` processes (default: all CPUs) each decode contiguous
    chunks of ``chunk_size`` rows straight into the shared file, so peak memory does not grow
    with the number of images. The default chunk size depends on the images present only (never
    on ``workers``, so a pack resumes with any worker count): 1/64 of them, between 16 and
    ``MAX_CHUNK_SIZE``. Bad values are one :class:`~celebalab.options.ConfigError` (checked as
    :class:`~celebalab.datasets.config.PackOptions`).
    """
    PackOptions(size=size, crop=crop, workers=workers)
    if chunk_size is not None and chunk_size < 1:
        raise PackError(f"chunk_size must be positive, not {chunk_size}")
    t0 = time.perf_counter()
    dataset = open_dataset(root)
    source = _Source(dataset)
    stored = len(source.rows)
    if not stored:
        raise PackError(
            f"{dataset.image_dir}: none of the {len(dataset):,} annotated images is there; "
            "nothing to pack (is the image folder complete?)"
        )
    dataset.say_presence()
    chunk_size = chunk_size or min(MAX_CHUNK_SIZE, max(16, -(-stored // 64)))
    paths = PackPaths.of(dataset.root, size, crop)
    facts = {
        "path": paths.data,
        "manifest_path": paths.manifest,
        "size": size,
        "crop": crop,
        "count": len(dataset),
        "stored": stored,
        "missing": dataset.missing_count,
        "missing_file": dataset.missing_file if dataset.missing_count else None,
        "chunks_total": -(-stored // chunk_size),
    }
    manifest = _complete_manifest(paths, _identity(size, crop, source))
    if manifest is not None:
        return PackResult(
            **{**facts, "stored": _stored(manifest)},
            corrupt=manifest["corrupt"],
            seconds=time.perf_counter() - t0,
            decode_seconds=0.0,
            chunks_packed=0,
            rows_packed=0,
            reused=True,
        )
    if paths.manifest.exists():
        log.info("%s: stale or damaged pack (the dataset changed); rebuilding", paths.manifest)
        paths.manifest.unlink()
    job = _start_job(paths, source, size, crop, chunk_size)
    if job.done:
        log.info("resuming %s: %d/%d chunks already done", paths.partial, len(job.done),
                 job.n_chunks)  # fmt: skip
    t_decode = time.perf_counter()
    chunks, rows = _run(job, workers or os.cpu_count() or 1)
    decode_seconds = time.perf_counter() - t_decode
    corrupt = _finish(job)
    return PackResult(
        **facts,
        corrupt=corrupt,
        seconds=time.perf_counter() - t0,
        decode_seconds=decode_seconds,
        chunks_packed=chunks,
        rows_packed=rows,
        reused=False,
    )


@_progress.legacy_progress
def open_or_pack(dataset: DatasetLike, size: int, crop: str = "center") -> PackedImages:
    """The complete, current (``size``, ``crop``) pack of ``dataset``, built, resumed or
    refreshed first: the one way every command gets a pack."""
    dataset = open_dataset(dataset)
    result = pack_images(dataset, size, crop)
    pack = PackedImages.open(dataset, size, crop, image_ids=dataset.image_ids.tolist())
    if pack is None:
        raise PackError(f"{result.manifest_path}: the pack could not be opened after packing; "
                        "remove it and run `celebalab data pack` again")  # fmt: skip
    return pack


# ---------------------------------------------------------------- reading


class PackedImages:
    """A complete pack opened read-only: ``images[position]`` is an S×S×3 uint8 array.

    ``rows[position]`` is the metadata-table row of each stored image (``positions`` maps
    back; -1 for a row the pack does not hold), ``image_ids`` and ``valid`` are per stored row,
    ``count`` the table's rows.
    """

    def __init__(
        self,
        images: np.memmap,
        image_ids: list[str],
        valid: np.ndarray,
        manifest: dict[str, Any],
        rows: np.ndarray | None = None,
    ) -> None:
        self.images = images
        self.image_ids = image_ids
        self.valid = valid
        self.manifest = manifest
        self.rows = np.arange(len(image_ids)) if rows is None else np.asarray(rows, np.int64)
        self.size: int = manifest["size"]
        self.crop: str = manifest["crop"]
        self.count: int = int(manifest["count"])

    @classmethod
    def open(
        cls,
        root: DatasetLike,
        size: int,
        crop: str = "center",
        image_ids: Sequence[str] | None = None,
    ) -> PackedImages | None:
        """Open the (``size``, ``crop``) pack of ``root``; None unless it is complete.

        With ``image_ids``, also None when the pack was built for a different id list.
        """
        paths = PackPaths.of(root.root if isinstance(root, Dataset) else root, size, crop)
        manifest = read_json(paths.manifest)
        if manifest is None or manifest.get("format") not in READABLE_FORMATS:
            return None
        if manifest.get("size") != size or manifest.get("crop") != crop:
            return None
        if image_ids is not None and manifest.get("ids_sha256") != ids_fingerprint(image_ids):
            return None
        stored = _stored(manifest)
        try:
            if paths.data.stat().st_size != stored * _row_bytes(size):
                return None
            index = pq.read_table(paths.index)
        except (OSError, pa.ArrowException):
            return None
        if index.num_rows != stored:
            return None
        images = np.memmap(paths.data, dtype=np.uint8, mode="r", shape=(stored, size, size, 3))
        ids = index.column("image_id").to_pylist()
        valid = index.column("valid").to_numpy(zero_copy_only=False).astype(np.bool_)
        rows = index.column("row").to_numpy() if "row" in index.column_names else None
        return cls(images, ids, valid, manifest, rows)

    @cached_property
    def _rows(self) -> dict[str, int]:
        return {image_id: row for row, image_id in enumerate(self.image_ids)}

    @cached_property
    def _positions(self) -> np.ndarray:
        positions = np.full(self.count, -1, dtype=np.int64)
        positions[self.rows] = np.arange(len(self.rows))
        return positions

    def positions(self, table_rows: np.ndarray) -> np.ndarray:
        """Pack positions of metadata-table rows (-1 where the pack does not hold the image)."""
        return self._positions[np.asarray(table_rows, dtype=np.int64)]

    @cached_property
    def usable(self) -> np.ndarray:
        """(count,) bool per table row: the pack holds a readable image of it."""
        usable = np.zeros(self.count, dtype=bool)
        usable[self.rows[self.valid]] = True
        return usable

    def row_of(self, image_id: str) -> int:
        """Position of ``image_id`` in ``images`` (KeyError if the pack does not hold it)."""
        try:
            return self._rows[image_id]
        except KeyError:
            raise KeyError(f"{image_id!r} is not in the packed cache") from None

    def __len__(self) -> int:
        return len(self.image_ids)

    def __repr__(self) -> str:
        return f"PackedImages({len(self)} × {self.size}px, crop={self.crop!r})"
