"""How a table row becomes an S×S×3 uint8 image, one way everywhere: ``ImageSpec`` + ``RowReader``.

:class:`ImageSpec` says what a consumer wants (side, crop, and for an imported model's run its
face alignment); :class:`RowReader` reads table rows of a dataset at that spec: from the packed
cache when a complete one exists (one memmap read per batch), otherwise by decoding the files
with :func:`~celebalab.datasets.decode.load_resized`, the function that built the pack, so both
give the same pixels. Training, inference, the GAN, explanations and ``CelebADataset`` all read
through it. A spec whose alignment is not the crop (ArcFace template, dlib chip) always decodes
and aligns the files: from the dataset's landmarks when it has them (threads, one batch ahead),
else through dlib's detector (processes: dlib holds the GIL).

Two ways to read: :meth:`RowReader.read` returns every requested row or raises
:class:`DataFormatError` naming the file (training picks readable rows first);
:meth:`RowReader.batches` skips unreadable rows and says why (evaluation, extraction).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from celebalab import _progress
from celebalab.datasets.decode import CROPS, image_error_text, load_resized
from celebalab.datasets.schema import LANDMARK_COLUMNS
from celebalab.errors import CelebalabError, DataFormatError

if TYPE_CHECKING:
    from celebalab.alignment import FacePrep
    from celebalab.datasets.dataset import Dataset
    from celebalab.datasets.packed import PackedImages

#: Decoding threads when ``workers`` is not given (Pillow releases the GIL while decoding).
MAX_DEFAULT_WORKERS = 8

#: ``(rows or positions kept, uint8 k×S×S×3, [(row or position, reason), …] unreadable)``.
Batch = tuple[np.ndarray, np.ndarray, list[tuple[int, str]]]


@dataclass(frozen=True)
class ImageSpec:
    """What a consumer's images are: ``size``×``size``, ``crop`` first (``center`` or ``none``),
    or aligned by ``prep`` when its method is not the crop (an imported model's run)."""

    size: int
    crop: str = "center"
    prep: FacePrep | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.size, int) or self.size < 1:
            raise CelebalabError(f"image size must be a positive integer, not {self.size!r}")
        if self.crop not in CROPS:
            raise CelebalabError(f"crop must be one of {', '.join(CROPS)}, not {self.crop!r}")

    @property
    def aligned(self) -> bool:
        """True when images are aligned by landmarks rather than cropped (never packed)."""
        return self.prep is not None and self.prep.method != "crop"

    def decode(self, path: str | Path) -> np.ndarray:
        """The S×S×3 uint8 image of a file, cropped and resized (raises what Pillow raises)."""
        return load_resized(path, self.size, self.crop)


class RowReader:
    """Images of ``dataset``'s table rows at ``spec``: packed cache if present, else decoded.

    ``source`` says which (``"packed cache"``, ``"image files"``, ``"image files aligned
    (…)"``); ``usable`` is the per-row bool known before reading (the pack's readable rows, or
    the rows whose file exists); ``corrupt`` the ``(image_id, reason)`` of the pack's
    unreadable images. Pickles without the memmap (each DataLoader worker reopens the pack).
    """

    def __init__(
        self,
        dataset: Dataset,
        spec: ImageSpec,
        pack: PackedImages | None = None,
        workers: int | None = None,
    ) -> None:
        self.dataset = dataset
        self.spec = spec
        self.workers = workers
        self._pack = pack
        self._packed = pack is not None

    @classmethod
    @_progress.legacy_progress
    def open(
        cls,
        dataset: Dataset,
        spec: ImageSpec,
        *,
        build: bool = False,
        workers: int | None = None,
    ) -> RowReader:
        """A reader on the complete pack of ``spec`` (built first with ``build``), else files."""
        from celebalab.datasets.packed import PackedImages, open_or_pack

        pack = None
        if not spec.aligned:
            if build:
                pack = open_or_pack(dataset, spec.size, spec.crop)
            else:
                ids = dataset.image_ids.tolist()
                pack = PackedImages.open(dataset, spec.size, spec.crop, image_ids=ids)
        return cls(dataset, spec, pack, workers)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_pack": None}

    @property
    def pack(self) -> PackedImages | None:
        """The packed cache read from, or None (reopened after unpickling)."""
        if self._pack is None and self._packed:
            from celebalab.datasets.packed import PackedImages

            self._pack = PackedImages.open(self.dataset, self.spec.size, self.spec.crop)
        return self._pack

    @property
    def source(self) -> str:
        """Where the pixels come from, in words (recorded in run and evaluation outputs)."""
        if self.spec.aligned:
            return f"image files aligned ({self.spec.prep.describe()})"  # type: ignore[union-attr]
        return "packed cache" if self._packed else "image files"

    @property
    def usable(self) -> np.ndarray:
        """(N,) bool per table row: readable in the pack, or (no pack) its file exists."""
        pack = self.pack
        return pack.usable if pack is not None else self.dataset.present

    @property
    def corrupt(self) -> list[tuple[str, str]]:
        """``(image_id, reason)`` of the pack's unreadable images (empty without a pack)."""
        pack = self.pack
        listed = pack.manifest.get("corrupt", []) if pack is not None else []
        return [(c["image_id"], c["reason"]) for c in listed]

    # ------------------------------------------------------------ reading

    def read(self, rows: np.ndarray) -> np.ndarray:
        """``len(rows)×S×S×3`` uint8 images of table ``rows`` (sorted rows read the pack
        sequentially); an unreadable one raises :class:`DataFormatError` naming its file."""
        rows = np.asarray(rows, dtype=np.int64)
        pack = self.pack
        if pack is not None:
            positions = pack.positions(rows)
            bad = (positions < 0) | ~pack.valid[np.maximum(positions, 0)]
            if bad.any():
                path = self.dataset.image_path(int(rows[np.argmax(bad)]))
                raise DataFormatError(path, "not readable in the packed cache")
            return np.ascontiguousarray(pack.images[positions])
        out = np.empty((len(rows), self.spec.size, self.spec.size, 3), dtype=np.uint8)
        load = self._loader(rows)
        for i in range(len(rows)):
            try:
                out[i] = load(i)
            except Exception as err:  # any decoder failure: name the file, stop cleanly
                path = self.dataset.image_path(int(rows[i]))
                why = image_error_text(path, err)
                raise DataFormatError(path, f"cannot read image: {why}") from None
        return out

    def batches(self, rows: np.ndarray, batch_size: int) -> Iterator[Batch]:
        """Batches of table ``rows`` (order kept), unreadable rows skipped with their reason."""
        rows = np.asarray(rows, dtype=np.int64)
        pack, prep = self.pack, self.spec.prep
        if pack is not None:
            yield from _packed_batches(self.dataset, pack, rows, batch_size)
        elif (
            prep is not None
            and self.spec.aligned
            and (prep.method == "dlib" or self._landmarks is None)
        ):
            yield from self._detected_batches(rows, batch_size)
        else:
            paths, spec = self.dataset.image_paths(rows), self.spec
            load = self._loader(rows) if spec.aligned else None
            decoded = decode_batches(
                paths, spec.size, spec.crop, batch_size, self.workers, load=load
            )
            for kept, images, failed in decoded:
                yield rows[kept], images, [(int(rows[i]), reason) for i, reason in failed]

    # ------------------------------------------------------------ aligned images

    @cached_property
    def _landmarks(self) -> np.ndarray | None:
        """N×5×2 landmarks of the table (CelebA), or None."""
        table = self.dataset.table
        if not set(LANDMARK_COLUMNS) <= set(table.columns):
            return None
        return table[list(LANDMARK_COLUMNS)].to_numpy(np.float64).reshape(-1, 5, 2)

    def _loader(self, rows: np.ndarray) -> Callable[[int], np.ndarray]:
        """``load(i)``: the image of ``rows[i]`` at the spec (aligned by its landmarks)."""
        paths, prep, marks = self.dataset.image_paths(rows), self.spec.prep, self._landmarks
        if prep is None or not self.spec.aligned:
            return lambda i: self.spec.decode(paths[i])
        return lambda i: prep.load(paths[i], None if marks is None else marks[rows[i]]).image

    def _detected_batches(self, rows: np.ndarray, batch_size: int) -> Iterator[Batch]:
        """dlib's chips, or faces found by its detector (no landmarks): ``workers`` processes."""
        marks = self._landmarks
        for start in range(0, len(rows), batch_size):
            batch = rows[start : start + batch_size]
            paths = self.dataset.image_paths(batch)
            found = None if marks is None else marks[batch]
            outcomes = self.spec.prep.load_many(paths, found, self.workers)
            decoded = [(image, why) for image, why, _ in outcomes]
            kept, images, failed = assemble(0, decoded, self.spec.size)
            yield batch[kept], images, [(int(batch[i]), why) for i, why in failed]


def _packed_batches(
    dataset: Dataset, pack: PackedImages, rows: np.ndarray, batch_size: int
) -> Iterator[Batch]:
    """Memmap slices of the pack; rows it does not hold or marked unreadable are skipped."""
    reasons = {c["image_id"]: c["reason"] for c in pack.manifest.get("corrupt", [])}
    for start in range(0, len(rows), batch_size):
        batch = rows[start : start + batch_size]
        positions = pack.positions(batch)
        ok = (positions >= 0) & pack.valid[np.maximum(positions, 0)]
        failed = []
        for row, position in zip(batch[~ok], positions[~ok], strict=True):
            failed.append((int(row), _unpacked_reason(dataset, reasons, int(row), position)))
        yield batch[ok], np.ascontiguousarray(pack.images[positions[ok]]), failed


def _unpacked_reason(dataset: Dataset, reasons: dict[str, str], row: int, position: int) -> str:
    """Why the pack has no image for ``row``: unreadable, no file, or packed before it came."""
    if position >= 0:
        return f"unreadable image ({reasons.get(dataset.image_ids[row], 'corrupt')})"
    if not dataset.present[row]:
        return "unreadable image (no such file)"
    return "not in the packed cache (added since it was built: `celebalab data pack` adds it)"


# ---------------------------------------------------------------- decoding files

Decoded = tuple["np.ndarray | None", str]


def decode_batches(
    paths: Sequence[Path],
    size: int,
    crop: str,
    batch_size: int,
    workers: int | None = None,
    *,
    load: Callable[[int], np.ndarray] | None = None,
) -> Iterator[Batch]:
    """Decode ``paths`` in batches, the next batch decoding while the caller uses this one.

    Yields ``(positions kept, uint8 k×S×S×3, [(position, reason), …] unreadable)``, positions
    being indices into ``paths``. Decoding runs in ``workers`` threads (default: CPU count, at
    most 8; 0: in the calling thread). ``load(position)`` replaces the crop-and-resize decoder
    (aligned inputs); a :class:`CelebalabError` it raises (no face found) skips the image too.
    """
    threads = min(MAX_DEFAULT_WORKERS, os.cpu_count() or 1) if workers is None else workers
    starts = range(0, len(paths), batch_size)

    def one(position: int) -> Decoded:
        if load is None:
            return _decode(paths[position], size, crop)
        try:
            return load(position), ""
        except CelebalabError as err:
            return None, str(err)
        except Exception as err:  # any decoder failure skips the file
            return None, f"unreadable image ({image_error_text(paths[position], err)})"

    if threads == 0:
        for start in starts:
            stop = min(start + batch_size, len(paths))
            yield assemble(start, [one(i) for i in range(start, stop)], size)
        return
    with ThreadPoolExecutor(threads) as pool:

        def submit(start: int) -> list[Future[Decoded]]:
            stop = min(start + batch_size, len(paths))
            return [pool.submit(one, i) for i in range(start, stop)]

        pending = submit(0) if len(paths) else []
        for start in starts:
            current = pending
            if start + batch_size < len(paths):
                pending = submit(start + batch_size)
            yield assemble(start, [f.result() for f in current], size)


def _decode(path: Path, size: int, crop: str) -> Decoded:
    """The S×S×3 uint8 image of ``path``, or None and a one-line reason it cannot be read."""
    try:
        return load_resized(path, size, crop), ""
    except Exception as err:  # any decoder failure (truncated, not an image, …) skips the file
        return None, f"unreadable image ({image_error_text(path, err)})"


def assemble(start: int, decoded: list[Decoded], size: int) -> Batch:
    """One batch from per-image outcomes ``(image or None, reason)`` numbered from ``start``."""
    kept = [start + i for i, (image, _) in enumerate(decoded) if image is not None]
    failed = [(start + i, reason) for i, (image, reason) in enumerate(decoded) if image is None]
    images = [image for image, _ in decoded if image is not None]
    stacked = np.stack(images) if images else np.zeros((0, size, size, 3), np.uint8)
    return np.asarray(kept, dtype=np.int64), stacked, failed
