"""One dataset copy, resolved once: layout, metadata table, image folder and which images exist.

Every command turns its dataset path into a :class:`Dataset` once, at the top
(:func:`open_dataset`), and hands the object down; nothing below re-detects the layout or
re-reads the table, and layout facts are typed attributes instead of ``DataFrame.attrs`` keys
(those stay filled for older callers).

Which images exist comes from one ``os.scandir`` of the image folder (names only, no ``stat``
per file: ~0.1 s for CelebA's 202,599 files). The answer is cached in the dataset's cache
folder as a bitmap keyed on the table's fingerprint and the folder's identity and mtime: adding,
removing or renaming a file changes the folder's mtime, so a cached answer is reused only while
the listing cannot have changed. A folder modified within :data:`RACY_SECONDS` of the scan is
never cached (a change in the same timestamp tick would go unseen, as in git's "racy" index
entries), so a copy still being unpacked is rescanned each time. The ids of missing images are
written to one file beside it (:attr:`Dataset.missing_file`, one id a line), so a partial copy is
reported in one line (:meth:`Dataset.presence_line`), never one line per image.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from celebalab.datasets.cache import cache_dir_for
from celebalab.datasets.layout import DatasetLayout, detect_layout, image_file_name
from celebalab.datasets.schema import ATTRIBUTE_NAMES
from celebalab.io import write_bytes_atomic, write_text_atomic

PRESENCE_FILE = "images_present.npz"
MISSING_FILE = "missing_images.txt"
#: A folder modified this recently (seconds before the scan) is rescanned next time.
RACY_SECONDS = 2.0
_PRESENCE_VERSION = 1


@dataclass(frozen=True, eq=False)
class Dataset:
    """A CelebA (official or Kaggle) or CelebAMask-HQ copy, resolved once.

    ``table`` is the metadata table (one row per annotated image, in file order; columns in the
    design page); ``fingerprint`` the SHA-256 of its sources. Per-row arrays, ``N`` the rows:
    ``image_ids`` (N,) str, ``attributes`` N×40 uint8 0/1 (``ATTRIBUTE_NAMES`` order),
    ``identity`` (N,) int32 (-1 unknown), ``partition`` (N,) int8 (0 train, 1 val, 2 test,
    -1 unknown), ``present`` (N,) bool (the image file exists).
    """

    layout: DatasetLayout
    table: pd.DataFrame
    fingerprint: str
    _said: set[str] = field(default_factory=set, repr=False)

    # ------------------------------------------------------------ what the copy is

    @property
    def root(self) -> Path:
        """The resolved dataset root."""
        return self.layout.root

    @property
    def name(self) -> str:
        """``"celeba"`` or ``"celebamask_hq"``."""
        return self.layout.dataset

    @property
    def kind(self) -> str:
        """The layout: ``"official"``, ``"kaggle"`` or ``"celebamask_hq"``."""
        return self.layout.kind

    @property
    def image_dir(self) -> Path:
        """The folder of the image files."""
        return self.layout.image_dir

    @property
    def image_ext(self) -> str:
        """Extension of the files on disk (``.png`` for ``img_align_celeba_png``)."""
        return self.layout.image_ext

    @property
    def mask_dir(self) -> Path | None:
        """CelebAMask-HQ's per-class mask folder, when there is one."""
        return self.layout.mask_dir

    @property
    def annotation_set(self) -> str:
        """Which annotation files were read, in words."""
        return self.layout.annotation_set

    @property
    def partition_source(self) -> str:
        """Where the partition came from (``"partition file"``, ``"none: <why>"``, …)."""
        return str(self.table.attrs.get("partition_source", "none"))

    @property
    def cache_dir(self) -> Path:
        """Where derived files of this copy live (table, packs, the presence bitmap)."""
        return cache_dir_for(self.root)

    # ------------------------------------------------------------ per-row arrays

    def __len__(self) -> int:
        return len(self.table)

    @cached_property
    def image_ids(self) -> np.ndarray:
        """(N,) image ids, as the annotation files name them."""
        return self.table["image_id"].astype(str).to_numpy()

    @property
    def attributes(self) -> np.ndarray:
        """N×40 uint8 0/1 labels, in ``ATTRIBUTE_NAMES`` order."""
        return self.table[list(ATTRIBUTE_NAMES)].to_numpy(np.uint8)

    @property
    def identity(self) -> np.ndarray:
        """(N,) int32 identities, -1 where unknown."""
        return self.table["identity"].to_numpy(np.int32)

    @property
    def partition(self) -> np.ndarray:
        """(N,) int8 partition codes, -1 where unknown."""
        return self.table["partition"].to_numpy(np.int8)

    def image_path(self, row: int) -> Path:
        """The image file of table row ``row``."""
        return self.image_dir / image_file_name(str(self.image_ids[row]), self.image_ext)

    def image_paths(self, rows: np.ndarray | list[int]) -> list[Path]:
        """The image files of table ``rows``."""
        return [self.image_path(int(r)) for r in rows]

    # ------------------------------------------------------------ which images exist

    @cached_property
    def present(self) -> np.ndarray:
        """(N,) bool: True where the row's image file exists (cached scan, module doc)."""
        return _presence(self)

    @property
    def present_rows(self) -> np.ndarray:
        """int64 table rows whose image file exists, in table order."""
        return np.flatnonzero(self.present)

    @property
    def missing_count(self) -> int:
        """Rows whose image file does not exist."""
        return int(len(self) - self.present.sum())

    @property
    def missing_file(self) -> Path:
        """The file listing the missing images' ids, one a line (written when any is missing)."""
        return self.cache_dir / MISSING_FILE

    def presence_line(self) -> str | None:
        """``6,032 of 202,599 images present; 196,567 missing (listed in FILE)``; None when
        every image is there."""
        missing = self.missing_count
        if not missing:
            return None
        return (
            f"{len(self) - missing:,} of {len(self):,} images present; {missing:,} missing "
            f"(listed in {self.missing_file})"
        )

    def say_presence(self) -> None:
        """Print :meth:`presence_line` to stderr, once per ``Dataset`` (i.e. per command)."""
        line = self.presence_line()
        if line is not None and "presence" not in self._said:
            self._said.add("presence")
            print(line, file=sys.stderr, flush=True)

    def existing_files(self) -> set[str]:
        """File names (in the image folder) of the rows whose image exists."""
        ext = self.image_ext
        return {image_file_name(i, ext) for i in self.image_ids[self.present].tolist()}

    def only_present(self, rows: np.ndarray) -> np.ndarray:
        """``rows`` (table rows, order kept) whose image file exists."""
        rows = np.asarray(rows, dtype=np.int64)
        return rows[self.present[rows]]


DatasetLike = Dataset | str | Path


def open_dataset(
    root: DatasetLike, *, refresh: bool = False, celeba_root: str | Path | None = None
) -> Dataset:
    """The :class:`Dataset` at ``root`` (a Dataset is returned as is).

    ``refresh`` re-parses the annotation files; ``celeba_root`` names the CelebA copy whose
    partition and identities a CelebAMask-HQ root uses (default: a CelebA folder beside it).
    Layout problems are :class:`~celebalab.errors.DatasetLayoutError`, annotation problems
    :class:`~celebalab.errors.DataFormatError` at ``file:line``.
    """
    if isinstance(root, Dataset):
        return root
    from celebalab.datasets.table import read_table

    layout = detect_layout(root)
    table, fingerprint = read_table(layout, refresh, celeba_root)
    return Dataset(layout=layout, table=table, fingerprint=fingerprint)


# ---------------------------------------------------------------- the presence scan


def _presence(dataset: Dataset) -> np.ndarray:
    """The cached presence bitmap when still valid, else one scan (cached when not racy)."""
    folder = dataset.image_dir
    stat = os.stat(folder)
    key = {
        "version": _PRESENCE_VERSION,
        "table": dataset.fingerprint,
        "image_dir": str(folder),
        "image_ext": dataset.image_ext,
        "folder": [stat.st_dev, stat.st_ino, stat.st_mtime_ns],
    }
    cache = dataset.cache_dir / PRESENCE_FILE
    present = _read_presence(cache, key, len(dataset))
    if present is not None and (present.all() or dataset.missing_file.is_file()):
        return present
    scanned_ns = time.time_ns()
    listing = _listing(folder)
    names = (image_file_name(i, dataset.image_ext) for i in dataset.image_ids)
    present = np.fromiter((n in listing for n in names), dtype=bool, count=len(dataset))
    _write_missing(dataset.missing_file, dataset.image_ids[~present])
    if scanned_ns - stat.st_mtime_ns > RACY_SECONDS * 1e9:
        _write_presence(cache, key, present)
    return present


def _listing(folder: Path) -> set[str]:
    """The names in ``folder``: one ``scandir``, no ``stat`` per file."""
    with os.scandir(folder) as entries:
        return {entry.name for entry in entries}


def _read_presence(path: Path, key: dict, count: int) -> np.ndarray | None:
    try:
        with np.load(path, allow_pickle=False) as saved:
            if json.loads(str(saved["key"])) != key:
                return None
            return np.unpackbits(saved["bits"], count=count).astype(bool)
    except (OSError, ValueError, KeyError):
        return None


def _write_presence(path: Path, key: dict, present: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, key=np.array(json.dumps(key)), bits=np.packbits(present))
    with contextlib.suppress(OSError):  # a read-only cache: the scan is redone next time
        write_bytes_atomic(path, buffer.getvalue())


def _write_missing(path: Path, ids: np.ndarray) -> None:
    """The missing ids, one a line; no file when none is missing."""
    try:
        if not len(ids):
            path.unlink(missing_ok=True)
            return
        write_text_atomic(path, "\n".join(ids.tolist()) + "\n")
    except OSError:
        pass
