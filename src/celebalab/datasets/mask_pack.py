"""Label-map pack: every image's face-parsing label map, once, at the model's size (uint8 memmap).

Regional metrics need one label map per image at the model's input size. CelebAMask-HQ stores
~12 part PNGs of 512 px per image; reading and combining them on every run dominates a run's
time. ``pack_label_maps(root, size, crop)`` does it once into ``cache_dir_for(root)``:

- ``labels_<S>_<crop>.u8``            uint8 N×S×S label maps (class values of
                                      :data:`~celebalab.datasets.schema.MASK_CLASS_VALUES`),
                                      rows in metadata-table order;
- ``labels_<S>_<crop>.index.parquet`` ``image_id`` and ``valid`` (False: no usable mask);
- ``labels_<S>_<crop>.json``          the manifest, written LAST (no manifest: never read).

Sources: a CelebAMask-HQ root (per-class mask files, combined in the authors' order) or a CelebA
root holding ``synthetic_label_maps/`` (the generator's label maps of the aligned images).
Maps are resized with nearest neighbour after the same crop as the images (``crop="center"``
keeps the central square). Like the image pack (:mod:`celebalab.datasets.packfiles` holds the
files both use) it is resumable per chunk (append-only progress log, kill -9 safe) and atomic.
Images without masks (no part file, an unreadable file) never stop a pack: their rows stay zero,
``valid`` is False and they are listed in the manifest and in ``MaskPackResult.missing``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from celebalab import _progress
from celebalab.datasets.dataset import Dataset, DatasetLike, open_dataset
from celebalab.datasets.decode import CROPS
from celebalab.datasets.packfiles import (
    PackPaths,
    ProgressLog,
    allocate,
    ids_fingerprint,
    read_json,
)
from celebalab.errors import CelebalabError
from celebalab.io import atomic_path, write_json_atomic

FORMAT_VERSION = 1
SYNTHETIC_LABEL_DIR = "synthetic_label_maps"
CHUNK_SIZE = 128


class MaskPackError(CelebalabError):
    """A label-map pack cannot be built (no masks in this dataset, bad size or crop)."""


@dataclass(frozen=True)
class MaskPackResult:
    """What ``pack_label_maps`` did: path, rows, images without masks, time, reuse."""

    path: Path
    size: int
    crop: str
    count: int
    missing: list[dict[str, str]]
    seconds: float
    rows_packed: int
    reused: bool


def mask_pack_paths(root: str | Path, size: int, crop: str) -> PackPaths:
    """Files of the (``size``, ``crop``) label-map pack of ``root`` (roles as in the image pack)."""
    return PackPaths.of(root, size, crop, kind="labels")


class _Reader:
    """Reads the full-size label map of table row ``r`` from whichever source the root has."""

    def __init__(self, dataset: Dataset) -> None:
        self.root = root = dataset.root
        self.ids = dataset.image_ids.tolist()
        table = dataset.table
        if dataset.name == "celebamask_hq":
            from celebalab.datasets.masks import MaskIndex

            self.kind = "celebamask_hq"
            self.hq_index = table["hq_index"].to_numpy()
            self.mask_index = MaskIndex(root)
        elif (root / SYNTHETIC_LABEL_DIR).is_dir():
            self.kind = "synthetic_label_maps"
        else:
            raise MaskPackError(
                f"{root}: no face-parsing masks (neither a CelebAMask-HQ root nor a CelebA root "
                f"with {SYNTHETIC_LABEL_DIR}/); point at the CelebAMask-HQ folder"
            )

    def __call__(self, row: int) -> np.ndarray:
        if self.kind == "celebamask_hq":
            from celebalab.datasets.masks import load_label_map

            return load_label_map(self.root, int(self.hq_index[row]), mask_index=self.mask_index)
        from PIL import Image

        path = self.root / SYNTHETIC_LABEL_DIR / (Path(self.ids[row]).stem + ".png")
        if not path.is_file():
            raise CelebalabError(f"{path}: no label map for this image")
        try:
            with Image.open(path) as image:
                return np.asarray(image)
        except (OSError, ValueError, SyntaxError) as err:  # what Pillow raises for bad files
            raise CelebalabError(f"{path}: cannot read label map ({err})") from None


def _plan(ids: list[str], size: int, crop: str, kind: str) -> dict[str, Any]:
    return {
        "format": FORMAT_VERSION,
        "size": size,
        "crop": crop,
        "source": kind,
        "count": len(ids),
        "chunk": CHUNK_SIZE,  # resume state counts chunks: a different chunk size starts afresh
        "ids_sha256": ids_fingerprint(ids),
    }


@_progress.legacy_progress
def pack_label_maps(root: DatasetLike, size: int, crop: str = "center") -> MaskPackResult:
    """Pack the label map of every image of ``root`` at ``size``×``size`` (``crop`` first).

    Reuses a complete pack for the same ids; resumes an interrupted one chunk by chunk.
    """
    from celebalab.datasets.masks import resize_label_map

    if not isinstance(size, int) or size < 1 or crop not in CROPS:
        raise MaskPackError(f"size must be a positive integer and crop one of {CROPS}")
    t0 = time.perf_counter()
    dataset = open_dataset(root)
    reader = _Reader(dataset)
    ids, paths = reader.ids, mask_pack_paths(dataset.root, size, crop)
    plan = _plan(ids, size, crop, reader.kind)
    manifest = read_json(paths.manifest)
    if manifest is not None and {k: manifest.get(k) for k in plan} == plan and paths.data.exists():
        return MaskPackResult(
            paths.data, size, crop, len(ids), manifest["missing"], time.perf_counter() - t0, 0, True
        )
    log = ProgressLog(paths.progress)
    done = log.resume(plan)
    nbytes = len(ids) * size * size
    if done is not None and not paths.partial.exists() and paths.data.exists():
        os.replace(paths.data, paths.partial)  # crashed between the final rename and the manifest
    if done is None or not _sized(paths.partial, nbytes):
        paths.data.unlink(missing_ok=True)
        paths.drop_older_progress()
        allocate(paths.partial, nbytes, MaskPackError)
        log.start(plan)
        done = {}
    labels = np.memmap(paths.partial, dtype=np.uint8, mode="r+", shape=(len(ids), size, size))
    chunks = [c for c in range(-(-len(ids) // CHUNK_SIZE)) if c not in done]
    packed = 0
    with _progress.bar(
        total=len(ids),
        initial=len(ids) - _rows(chunks, len(ids)),
        unit="img",
        desc=f"mask pack {size}px",
    ) as bar:
        for c in chunks:
            rows = range(c * CHUNK_SIZE, min(len(ids), (c + 1) * CHUNK_SIZE))
            missing = []
            for r in rows:
                try:
                    labels[r] = resize_label_map(reader(r), size, crop)
                except CelebalabError as err:
                    labels[r] = 0
                    missing.append([ids[r], str(err)])
            labels.flush()
            done[c] = missing
            log.record(c, missing)
            packed += len(rows)
            bar.update(len(rows))
    del labels
    missing = [{"image_id": i, "reason": why} for c in sorted(done) for i, why in done[c]]
    _finish(paths, plan, ids, missing, log)
    return MaskPackResult(
        paths.data, size, crop, len(ids), missing, time.perf_counter() - t0, packed, False
    )


def _sized(path: Path, nbytes: int) -> bool:
    return path.exists() and path.stat().st_size == nbytes


def _rows(chunks: list[int], count: int) -> int:
    return sum(min(CHUNK_SIZE, count - c * CHUNK_SIZE) for c in chunks)


def _finish(
    paths: PackPaths, plan: dict, ids: list[str], missing: list[dict[str, str]], log: ProgressLog
) -> None:
    """Rename the data into place, write the index, then the manifest (last), drop progress."""
    os.replace(paths.partial, paths.data)
    bad = {m["image_id"] for m in missing}
    with atomic_path(paths.index) as tmp:
        pq.write_table(pa.table({"image_id": ids, "valid": [i not in bad for i in ids]}), tmp)
    write_json_atomic(paths.manifest, {**plan, "data": paths.data.name, "missing": missing})
    log.remove()


class PackedLabelMaps:
    """A complete label-map pack opened read-only: ``labels[row]`` is an S×S uint8 label map."""

    def __init__(
        self,
        *,
        labels: np.memmap,
        image_ids: list[str],
        valid: np.ndarray,
        manifest: dict[str, Any],
    ) -> None:
        self.labels = labels
        self.image_ids = image_ids
        self.valid = valid
        self.manifest = manifest

    @classmethod
    def open(cls, root: str | Path, size: int, crop: str = "center") -> PackedLabelMaps | None:
        """Open the (``size``, ``crop``) pack of ``root``; None unless it is complete."""
        paths = mask_pack_paths(root, size, crop)
        manifest = read_json(paths.manifest)
        if manifest is None or manifest.get("format") != FORMAT_VERSION:
            return None
        count = manifest["count"]
        if not _sized(paths.data, count * size * size) or not paths.index.exists():
            return None
        index = pq.read_table(paths.index)
        labels = np.memmap(paths.data, dtype=np.uint8, mode="r", shape=(count, size, size))
        valid = index.column("valid").to_numpy(zero_copy_only=False).astype(bool)
        return cls(
            labels=labels,
            image_ids=index.column("image_id").to_pylist(),
            valid=valid,
            manifest=manifest,
        )


@_progress.legacy_progress
def open_or_pack_label_maps(root: DatasetLike, size: int, crop: str = "center") -> PackedLabelMaps:
    """The label-map pack of ``root``, building (or resuming, or refreshing) it first."""
    dataset = open_dataset(root)
    result = pack_label_maps(dataset, size, crop)
    pack = PackedLabelMaps.open(dataset.root, size, crop)
    if pack is None:  # pragma: no cover - pack_label_maps just wrote it
        raise MaskPackError(f"{result.path}: label-map pack unreadable after packing")
    return pack
