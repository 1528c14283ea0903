"""Packed image cache: every image decoded once into a uint8 memmap N×S×S×3 (``data pack``).

Training at 64 px from JPEGs is decode-bound; reading a memmap is not. Files, in
``cache_dir_for(root)``, named by size and crop (e.g. ``packed_64_center``):

- ``<name>.u8``            raw uint8 rows, one per image of the metadata table, in table order;
- ``<name>.index.parquet`` ``image_id`` and ``valid`` per row (False: the image could not be read);
- ``<name>.json``          the manifest, written LAST: a pack without a matching manifest is
                           incomplete and is never read (``PackedImages.open`` returns None).

While packing, rows go to ``<name>.u8.partial`` and ``<name>.progress.json`` records, atomically
after each chunk, which chunks are done and which images in them were corrupt. An interrupted
pack (Ctrl-C, kill -9, a crash) resumes only the missing chunks.

A complete pack whose dataset has changed (different image ids, or any listed image file with a
different size or mtime) is stale: ``pack_images`` says so and rebuilds it from scratch.
``PackedImages.open`` stays cheap and does not stat the images; pass ``image_ids`` to have it
reject a pack built for a different id list.

Corrupt images (missing, empty, truncated, not an image) never stop a pack: their rows stay zero,
``valid`` is False and they are listed in the manifest and in ``PackResult.corrupt``.
"""

from __future__ import annotations

import errno
import hashlib
import json
import multiprocessing
import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property, partial
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import typer

from celebalab import __version__
from celebalab.datasets.cache import cache_dir_for
from celebalab.datasets.decode import (
    CROPS,
    REDUCING_GAP,
    RESAMPLE,
    image_error_text,
    load_resized,
)
from celebalab.datasets.layout import image_file_name
from celebalab.errors import CelebalabError, check_at_least
from celebalab.io import atomic_path, write_json_atomic

FORMAT_VERSION = 1
MAX_CHUNK_SIZE = 256
MAX_SIZE = 4096


class PackError(CelebalabError):
    """A pack cannot be built (bad size or crop, empty dataset)."""


@dataclass(frozen=True)
class PackPaths:
    """The files of one pack (size, crop) of one dataset root."""

    data: Path
    partial: Path
    progress: Path
    index: Path
    manifest: Path

    @classmethod
    def of(cls, root: str | Path, size: int, crop: str, kind: str = "packed") -> PackPaths:
        """Paths of the (``size``, ``crop``) pack of ``root`` in its cache folder.

        ``kind`` names the pack's files (``packed`` images, ``labels`` for the label-map pack).
        """
        stem = cache_dir_for(root) / f"{kind}_{size}_{crop}"
        data = stem.with_name(stem.name + ".u8")
        return cls(
            data=data,
            partial=data.with_name(data.name + ".partial"),
            progress=stem.with_name(stem.name + ".progress.json"),
            index=stem.with_name(stem.name + ".index.parquet"),
            manifest=stem.with_name(stem.name + ".json"),
        )


@dataclass(frozen=True)
class PackResult:
    """What ``pack_images`` did: output path, row count, corrupt images and speed.

    ``seconds`` is the whole call (metadata, file checks, decoding, finishing); ``decode_seconds``
    only the parallel decoding of the missing chunks.
    """

    path: Path
    manifest_path: Path
    size: int
    crop: str
    count: int
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
    """The ordered image ids of a dataset, where they live, and a fingerprint of the files."""

    image_dir: Path
    image_ext: str  # of the files on disk: ids say ".jpg" even for the PNG variant of CelebA
    image_ids: list[str]

    def path(self, image_id: str) -> str:
        """The file of ``image_id``."""
        return os.path.join(self.image_dir, image_file_name(image_id, self.image_ext))

    @cached_property
    def ids_sha256(self) -> str:
        return ids_fingerprint(self.image_ids)

    @cached_property
    def files(self) -> dict[str, Any]:
        """Count, total bytes and a hash of (id, size, mtime) of every listed image file."""
        digest = hashlib.sha256()
        total = missing = 0
        for image_id in self.image_ids:
            try:
                st = os.stat(self.path(image_id))
            except OSError:
                missing += 1
                digest.update(f"{image_id}\0-\n".encode())
                continue
            total += st.st_size
            digest.update(f"{image_id}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        return {
            "files": len(self.image_ids) - missing,
            "missing": missing,
            "bytes": total,
            "stat_sha256": digest.hexdigest(),
        }


def ids_fingerprint(image_ids: Sequence[str]) -> str:
    """SHA-256 of the ordered image ids (one per line)."""
    return hashlib.sha256("\n".join(image_ids).encode()).hexdigest()


def _load_source(root: str | Path) -> _Source:
    from celebalab.datasets.table import load_table  # lazy: the table pulls pandas readers

    table = load_table(root)
    ids = table["image_id"].astype(str).tolist()
    return _Source(Path(table.attrs["image_dir"]), table.attrs["image_ext"], ids)


def _identity(size: int, crop: str, source: _Source) -> dict[str, Any]:
    """Everything a finished pack must match to be reused."""
    return {
        "format": FORMAT_VERSION,
        "size": size,
        "crop": crop,
        "resample": RESAMPLE.name.lower(),
        "reducing_gap": REDUCING_GAP,
        "jpeg_draft": True,
        "count": len(source.image_ids),
        "ids_sha256": source.ids_sha256,
        "source": {
            "image_dir": str(source.image_dir),
            "image_ext": source.image_ext,
            **source.files,
        },
    }


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


def _row_bytes(size: int) -> int:
    return size * size * 3


def _check_args(size: int, crop: str) -> None:
    if not isinstance(size, int) or not 1 <= size <= MAX_SIZE:
        raise PackError(f"--size must be an integer between 1 and {MAX_SIZE}, not {size!r}")
    if crop not in CROPS:
        raise PackError(f"--crop must be one of {', '.join(CROPS)}, not {crop!r}")


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
    """State of one pack run: which chunks are done and which rows were corrupt."""

    paths: PackPaths
    source: _Source
    size: int
    crop: str
    chunk_size: int
    plan: dict[str, Any]
    done: dict[str, list[list[Any]]] = field(default_factory=dict)

    @property
    def n_chunks(self) -> int:
        return -(-len(self.source.image_ids) // self.chunk_size)

    def save_progress(self) -> None:
        write_json_atomic(self.paths.progress, {"plan": self.plan, "done": self.done})

    def chunks_todo(self) -> list[int]:
        return [c for c in range(self.n_chunks) if str(c) not in self.done]

    def tasks(self, todo: list[int]) -> Iterator[_Chunk]:
        ids = self.source.image_ids
        for c in todo:
            start = c * self.chunk_size
            files = [self.source.path(i) for i in ids[start : start + self.chunk_size]]
            yield _Chunk(c, start, files, str(self.paths.partial), self.size, self.crop)

    def record(self, chunk_index: int, corrupt: list[tuple[int, str]]) -> None:
        start = chunk_index * self.chunk_size
        ids = self.source.image_ids
        self.done[str(chunk_index)] = [[ids[start + i], reason] for i, reason in corrupt]
        self.save_progress()

    def corrupt(self) -> list[dict[str, str]]:
        rows = [row for c in sorted(self.done, key=int) for row in self.done[c]]
        return [{"image_id": image_id, "reason": reason} for image_id, reason in rows]


def _start_job(paths: PackPaths, source: _Source, size: int, crop: str, chunk_size: int) -> _Job:
    """Resume the partial pack if it was started with the same plan, else start a fresh one."""
    plan = {**_identity(size, crop, source), "chunk_size": chunk_size}
    job = _Job(paths, source, size, crop, chunk_size, plan)
    expected = len(source.image_ids) * _row_bytes(size)
    state = _read_json(paths.progress)
    if state is not None and state.get("plan") == plan:
        if not paths.partial.exists() and paths.data.exists():
            os.replace(paths.data, paths.partial)  # crashed between the final rename and manifest
        if paths.partial.exists() and paths.partial.stat().st_size == expected:
            job.done = dict(state.get("done", {}))
            return job
    for stale in (paths.data, paths.partial, paths.index):
        stale.unlink(missing_ok=True)
    _allocate(paths.partial, expected)
    job.save_progress()
    return job


def _allocate(path: Path, nbytes: int) -> None:
    """Create ``path`` as ``nbytes`` zeros, reserving the disk space now where the OS can.

    A full disk then fails here with a clear error instead of killing a worker with SIGBUS when
    it writes into a memory-mapped hole.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        fh.truncate(nbytes)  # zeros: rows of corrupt images stay zero
        if hasattr(os, "posix_fallocate"):
            try:
                os.posix_fallocate(fh.fileno(), 0, nbytes)
            except OSError as err:
                if err.errno == errno.ENOSPC:
                    path.unlink()
                    raise PackError(
                        f"{path}: not enough disk space for the pack ({nbytes / 2**30:.2f} GiB); "
                        "free space or set CELEBALAB_CACHE to another disk"
                    ) from None
                # EOPNOTSUPP/EINVAL: the file system cannot reserve space; it stays sparse


def _run(job: _Job, workers: int, progress: bool) -> tuple[int, int]:
    """Decode every missing chunk, ``workers`` processes in parallel; return (chunks, rows)."""
    from tqdm import tqdm

    todo = job.chunks_todo()
    count, rows = len(job.source.image_ids), _rows_in(job, todo)
    bar = tqdm(
        total=count,
        initial=count - rows,
        unit="img",
        disable=not progress,
        desc=f"pack {job.size}px",
        file=sys.stderr,
    )
    workers = max(1, min(workers, len(todo)))
    with bar:
        if workers == 1:
            results: Iterator[tuple[int, list[tuple[int, str]]]] = map(_pack_chunk, job.tasks(todo))
            _collect(job, results, bar)
        else:
            with multiprocessing.get_context().Pool(workers) as pool:
                _collect(job, pool.imap_unordered(_pack_chunk, job.tasks(todo)), bar)
    return len(todo), rows


def _rows_in(job: _Job, chunks: list[int]) -> int:
    count = len(job.source.image_ids)
    return sum(min(job.chunk_size, count - c * job.chunk_size) for c in chunks)


def _collect(job: _Job, results: Iterator[tuple[int, list[tuple[int, str]]]], bar: Any) -> None:
    for chunk_index, corrupt in results:
        job.record(chunk_index, corrupt)
        bar.update(_rows_in(job, [chunk_index]))


def _finish(job: _Job) -> list[dict[str, str]]:
    """Rename the data into place, write the row index, then the manifest, then drop progress."""
    paths, corrupt = job.paths, job.corrupt()
    os.replace(paths.partial, paths.data)
    bad = {c["image_id"] for c in corrupt}
    ids = job.source.image_ids
    index = pa.table({"image_id": ids, "valid": [i not in bad for i in ids]})
    with atomic_path(paths.index) as tmp:
        pq.write_table(index, tmp)
    manifest = {
        **{k: v for k, v in job.plan.items() if k != "chunk_size"},
        "dtype": "uint8",
        "shape": [len(ids), job.size, job.size, 3],
        "data": paths.data.name,
        "index": paths.index.name,
        "valid_count": len(ids) - len(bad),
        "corrupt": corrupt,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "celebalab_version": __version__,
    }
    write_json_atomic(paths.manifest, manifest)
    paths.progress.unlink(missing_ok=True)
    return corrupt


def _complete_manifest(paths: PackPaths, identity: dict[str, Any]) -> dict[str, Any] | None:
    """The manifest if the finished pack on disk matches ``identity``, else None."""
    manifest = _read_json(paths.manifest)
    if manifest is None or {k: manifest.get(k) for k in identity} != identity:
        return None
    expected = identity["count"] * _row_bytes(identity["size"])
    if not paths.index.exists() or not paths.data.exists():
        return None
    return manifest if paths.data.stat().st_size == expected else None


def pack_images(
    root: str | Path,
    size: int,
    crop: str = "center",
    workers: int | None = None,
    progress: bool = True,
    *,
    chunk_size: int | None = None,
) -> PackResult:
    """Decode every image of ``root`` once into the (``size``, ``crop``) packed cache.

    Rows follow the metadata table order. Reuses a complete, current pack; resumes an interrupted
    one; rebuilds a stale one. ``workers`` processes (default: all CPUs) each decode contiguous
    chunks of ``chunk_size`` rows straight into the shared file, so peak memory does not grow
    with the number of images. The default chunk size depends on N only (never on ``workers``,
    so a pack resumes with any worker count): N/64 rows, between 16 and ``MAX_CHUNK_SIZE``.
    """
    _check_args(size, crop)
    check_at_least("--workers", workers, 1, "processes")
    t0 = time.perf_counter()
    source = _load_source(root)
    count = len(source.image_ids)
    if not count:
        raise PackError(f"{root}: the metadata table lists no images; nothing to pack")
    if chunk_size is not None and chunk_size < 1:
        raise PackError(f"chunk_size must be positive, not {chunk_size}")
    chunk_size = chunk_size or min(MAX_CHUNK_SIZE, max(16, -(-count // 64)))
    paths = PackPaths.of(root, size, crop)
    n_chunks = -(-count // chunk_size)
    result = partial(
        PackResult, paths.data, paths.manifest, size, crop, count, chunks_total=n_chunks
    )
    manifest = _complete_manifest(paths, _identity(size, crop, source))
    if manifest is not None:
        return result(
            manifest["corrupt"],
            seconds=time.perf_counter() - t0,
            decode_seconds=0.0,
            chunks_packed=0,
            rows_packed=0,
            reused=True,
        )
    if paths.manifest.exists():
        if progress:
            print(
                f"{paths.manifest}: stale or damaged pack (the dataset changed); rebuilding",
                file=sys.stderr,
            )
        paths.manifest.unlink()
    job = _start_job(paths, source, size, crop, chunk_size)
    if progress and job.done:
        print(
            f"resuming {paths.partial}: {len(job.done)}/{n_chunks} chunks already done",
            file=sys.stderr,
        )
    t_decode = time.perf_counter()
    chunks, rows = _run(job, workers or os.cpu_count() or 1, progress)
    decode_seconds = time.perf_counter() - t_decode
    corrupt = _finish(job)
    return result(
        corrupt,
        seconds=time.perf_counter() - t0,
        decode_seconds=decode_seconds,
        chunks_packed=chunks,
        rows_packed=rows,
        reused=False,
    )


# ---------------------------------------------------------------- reading


class PackedImages:
    """A complete pack opened read-only: ``images[row]`` is an S×S×3 uint8 array."""

    def __init__(
        self, images: np.memmap, image_ids: list[str], valid: np.ndarray, manifest: dict[str, Any]
    ) -> None:
        self.images = images
        self.image_ids = image_ids
        self.valid = valid
        self.manifest = manifest
        self.size: int = manifest["size"]
        self.crop: str = manifest["crop"]

    @classmethod
    def open(
        cls,
        root: str | Path,
        size: int,
        crop: str = "center",
        image_ids: Sequence[str] | None = None,
    ) -> PackedImages | None:
        """Open the (``size``, ``crop``) pack of ``root``; None unless it is complete.

        With ``image_ids``, also None when the pack was built for a different id list.
        """
        paths = PackPaths.of(root, size, crop)
        manifest = _read_json(paths.manifest)
        if manifest is None or manifest.get("format") != FORMAT_VERSION:
            return None
        if manifest.get("size") != size or manifest.get("crop") != crop:
            return None
        if image_ids is not None and manifest.get("ids_sha256") != ids_fingerprint(image_ids):
            return None
        count = manifest["count"]
        try:
            if paths.data.stat().st_size != count * _row_bytes(size):
                return None
            index = pq.read_table(paths.index)
        except (OSError, pa.ArrowException):
            return None
        if index.num_rows != count:
            return None
        images = np.memmap(paths.data, dtype=np.uint8, mode="r", shape=(count, size, size, 3))
        ids = index.column("image_id").to_pylist()
        valid = index.column("valid").to_numpy(zero_copy_only=False).astype(np.bool_)
        return cls(images, ids, valid, manifest)

    @cached_property
    def _rows(self) -> dict[str, int]:
        return {image_id: row for row, image_id in enumerate(self.image_ids)}

    def row_of(self, image_id: str) -> int:
        """Row of ``image_id`` in ``images`` (KeyError if the pack does not hold it)."""
        try:
            return self._rows[image_id]
        except KeyError:
            raise KeyError(f"{image_id!r} is not in the packed cache") from None

    def __len__(self) -> int:
        return len(self.image_ids)

    def __repr__(self) -> str:
        return f"PackedImages({len(self)} × {self.size}px, crop={self.crop!r})"


# ---------------------------------------------------------------- CLI


def pack_command(
    root: Annotated[Path, typer.Argument(help="CelebA (official/Kaggle) or CelebAMask-HQ root.")],
    size: Annotated[int, typer.Option(help="Side of the square images, in pixels.")] = 64,
    crop: Annotated[
        str, typer.Option(help="'center': central square then resize; 'none': squeeze to S×S.")
    ] = "center",
    workers: Annotated[
        int | None, typer.Option(help="Decoding processes (default: all CPUs).")
    ] = None,
) -> None:
    """Decode every image once into a uint8 memmap cache (resumable; rows in metadata order)."""
    result = pack_images(root, size, crop=crop, workers=workers)
    if result.reused:
        typer.echo(f"up to date: {result.path} ({result.count} rows, {size}px, crop={crop})")
    else:
        typer.echo(
            f"packed {result.count} rows ({size}px, crop={crop}) in {result.seconds:.1f} s, "
            f"{result.images_per_second:.0f} images/s -> {result.path}"
        )
    if result.corrupt:
        typer.echo(f"{len(result.corrupt)} corrupt image(s) skipped (rows zero, valid=False):")
        for bad in result.corrupt:
            typer.echo(f"  {bad['image_id']}: {bad['reason']}")
