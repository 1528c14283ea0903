"""One metadata table per dataset copy, cached as Parquet next to a fingerprint of its sources.

The first call parses the annotation files (see :mod:`celebalab.datasets.annotations`) and writes
``metadata.parquet`` into :func:`~celebalab.datasets.cache.cache_dir_for`; the fingerprint (path,
size, mtime and SHA-1 of every source file) is stored in the Parquet file's own metadata, so the
table and its fingerprint are replaced together, atomically. Later calls read the Parquet file
unless a source changed. The content hash is what catches an edit that keeps size and mtime (an
``rsync -t``, a restored mtime); hashing the ~50 MB of CelebA's files costs ~40 ms, a fraction of
the parse it saves.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from celebalab.datasets._agreement import check_copies
from celebalab.datasets.annotations import read_annotation, unreadable_file
from celebalab.datasets.cache import cache_dir_for
from celebalab.datasets.layout import DatasetLayout, detect_layout, find_celeba_beside
from celebalab.datasets.schema import (
    ATTRIBUTE_NAMES,
    BBOX_COLUMNS,
    CELEBA_NUM_IMAGES,
    CELEBA_PARTITION_SIZES,
    LANDMARK_COLUMNS,
    POSE_COLUMNS,
)
from celebalab.io import atomic_path

_CACHE_FILE = "metadata.parquet"
_CACHE_KEY = b"celebalab"
_ATTRS_KEY = b"celebalab_attrs"  # table attrs decided while building (partition source, …)
_CACHE_VERSION = 2
#: First CelebA ``orig_idx`` (0-based) of val and test, and the end of test: the official split.
_OFFICIAL_BOUNDS = np.cumsum([CELEBA_PARTITION_SIZES[s] for s in ("train", "val", "test")])


def load_table(
    root: str | Path, refresh: bool = False, celeba_root: str | Path | None = None
) -> pd.DataFrame:
    """The metadata table of a CelebA or CelebAMask-HQ copy (docs/design.md, "Metadata table").

    ``refresh`` re-parses even when the cache is current. For CelebAMask-HQ the partition and
    identities come from ``celeba_root`` (or a CelebA folder beside the HQ root) through the
    mapping file, else from the official ``orig_idx`` ranges; a CelebA copy without a partition
    file whose ids are exactly the official 202,599 gets the official index ranges;
    ``df.attrs["partition_source"]`` says which (or why there is none), and
    ``df.attrs["annotation_set"]`` which files were read. A folder with both the Kaggle CSVs and
    the official files is read from the official ones after checking that the CSVs agree (the
    first disagreement is a :class:`DataFormatError`).
    """
    return read_table(detect_layout(root), refresh, celeba_root)[0]


def read_table(
    layout: DatasetLayout, refresh: bool = False, celeba_root: str | Path | None = None
) -> tuple[pd.DataFrame, str]:
    """The metadata table of the detected ``layout`` (as :func:`load_table`) and the SHA-256
    of its sources' fingerprint: what :class:`~celebalab.datasets.dataset.Dataset` is keyed on."""
    celeba = _celeba_for(layout, celeba_root)
    fingerprint = _fingerprint(layout, celeba)
    cache = cache_dir_for(layout.root) / _CACHE_FILE
    frame = None if refresh else _read_cache(cache, fingerprint)
    if frame is None:
        frame = _build_hq(layout, celeba) if layout.dataset == "celebamask_hq" else _build(layout)
        _write_cache(cache, frame, fingerprint)
    frame.attrs.update(
        dataset=layout.dataset,
        layout=layout.kind,
        root=str(layout.root),
        image_dir=str(layout.image_dir),
        image_ext=layout.image_ext,
        annotation_set=layout.annotation_set,
    )
    digest = hashlib.sha256(json.dumps(fingerprint, sort_keys=True).encode()).hexdigest()
    return frame, digest


def _celeba_for(layout: DatasetLayout, celeba_root: str | Path | None) -> DatasetLayout | None:
    if layout.dataset != "celebamask_hq":
        return None
    if celeba_root is not None:
        return detect_layout(celeba_root)
    return find_celeba_beside(layout.root)


def _hq_partition_source(celeba: DatasetLayout | None, layout: DatasetLayout) -> str:
    if celeba is not None and "partition" in celeba.files:
        return f"CelebA {celeba.files['partition']}"
    if "hq_mapping" in layout.files:
        return "official CelebA orig_idx ranges"
    return "none"


def _fingerprint(layout: DatasetLayout, celeba: DatasetLayout | None) -> dict:
    """Path, size, mtime and SHA-1 of every source file (twins that are only checked, too)."""
    sources = dict(layout.files)
    sources.update({f"copy_{k}": p for k, p in layout.copies.items()})
    if celeba is not None:
        sources.update({f"celeba_{k}": p for k, p in celeba.files.items()})
    stats = []
    for kind, path in sorted(sources.items()):
        st = path.stat()
        stats.append([kind, str(path), st.st_size, st.st_mtime_ns, _sha1(path)])
    return {"version": _CACHE_VERSION, "layout": layout.kind, "sources": stats}


def _sha1(path: Path) -> str:
    """SHA-1 of a file's bytes, read in 1 MiB blocks (the fastest hashlib digest here: ~30 ms
    for CelebA's 50 MB of annotation files)."""
    digest = hashlib.sha1(usedforsecurity=False)
    try:
        with open(path, "rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
    except OSError as err:
        raise unreadable_file(path, err) from None
    return digest.hexdigest()


def _read_cache(path: Path, fingerprint: dict) -> pd.DataFrame | None:
    """The cached table if its stored fingerprint equals ``fingerprint``; None otherwise."""
    try:
        meta = pq.read_schema(path).metadata or {}
        if json.loads(meta.get(_CACHE_KEY, b"null")) != fingerprint:
            return None
        frame = pq.read_table(path).to_pandas()
        frame.attrs.update(json.loads(meta.get(_ATTRS_KEY, b"{}")))
        return frame
    except (OSError, ValueError, pa.ArrowException):
        return None


def _write_cache(path: Path, frame: pd.DataFrame, fingerprint: dict) -> None:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    meta = {
        **(table.schema.metadata or {}),
        _CACHE_KEY: json.dumps(fingerprint).encode(),
        _ATTRS_KEY: json.dumps(frame.attrs).encode(),
    }
    try:
        with atomic_path(path) as tmp:
            # dictionary encoding of ~60 short columns triples the write time for no gain here
            pq.write_table(table.replace_schema_metadata(meta), tmp, use_dictionary=False)
    except OSError as err:  # a read-only place: the table is still returned, just not cached
        warnings.warn(f"could not cache the metadata table at {path}: {err}", stacklevel=3)


def _aligned(
    ids: pd.Series, other: pd.DataFrame, key: str, fills: dict[str, object]
) -> dict[str, np.ndarray]:
    """The ``fills`` columns of ``other`` in the row order of ``ids`` (matched on ``other[key]``);
    ids missing from ``other`` get the column's fill value."""
    keys = other[key]
    if keys.reset_index(drop=True).equals(ids.reset_index(drop=True)):
        return {c: other[c].to_numpy() for c in fills}
    where = pd.Index(keys).get_indexer(ids)
    found = where >= 0
    out = {}
    for column, fill in fills.items():
        values = other[column].to_numpy()
        filled = np.full(len(ids), fill, dtype=values.dtype)
        filled[found] = values[where[found]]
        out[column] = filled
    return out


def _optional(
    layout: DatasetLayout | None,
    kind: str,
    ids: pd.Series,
    fills: dict[str, object],
    read: dict[str, pd.DataFrame] | None = None,
) -> dict[str, np.ndarray]:
    """Columns of an annotation file aligned to ``ids`` by image id; absent file → fill values.

    The parsed file is also kept in ``read`` (kind → frame) when given.
    """
    if layout is None or kind not in layout.files:
        return {c: np.full(len(ids), fill) for c, fill in fills.items()}
    frame = read_annotation(layout.files[kind], kind)
    if read is not None:
        read[kind] = frame
    return _aligned(ids, frame, "image_id", fills)


def _build(layout: DatasetLayout) -> pd.DataFrame:
    """The CelebA table: ids, partition, identity, attributes, then landmarks and bbox if any.

    Twin files of another set (``layout.copies``) are checked against the files read; the first
    disagreement is raised.
    """
    attrs = read_annotation(layout.files["attributes"], "attributes")
    read = {"attributes": attrs}
    ids = attrs["image_id"]
    columns = {"image_id": ids.to_numpy()}
    source = "partition file"
    if "partition" in layout.files:
        columns.update(_optional(layout, "partition", ids, {"partition": np.int8(-1)}, read))
    else:
        source, columns["partition"] = official_partition(ids)
    columns.update(_optional(layout, "identity", ids, {"identity": np.int32(-1)}, read))
    columns.update({a: attrs[a].to_numpy() for a in ATTRIBUTE_NAMES})
    for kind, names, fill in (
        ("landmarks", LANDMARK_COLUMNS, np.int16(-1)),
        ("bbox", BBOX_COLUMNS, np.int32(-1)),
    ):
        if kind in layout.files:
            columns.update(_optional(layout, kind, ids, dict.fromkeys(names, fill), read))
    disagreements = check_copies(layout, read)
    if disagreements:
        raise disagreements[0]
    frame = pd.DataFrame(columns)
    frame.attrs["partition_source"] = source
    return frame


def official_partition(ids: pd.Series) -> tuple[str, np.ndarray]:
    """Partition codes for a copy without a partition file, and where they came from.

    When ``ids`` are exactly the official 202,599 names (``000001.jpg`` … ``202599.jpg``, any
    order), the official index ranges apply (train 1–162,770, val –182,637, test –202,599);
    otherwise every row is -1 and the source says why.
    """
    unknown = np.full(len(ids), -1, dtype=np.int8)
    reason = (
        f"none: no partition file, and the {len(ids):,} ids are not the official "
        f"{CELEBA_NUM_IMAGES:,} (000001.jpg … {CELEBA_NUM_IMAGES:06d}.jpg), so the official "
        "index ranges do not apply; add list_eval_partition.txt (or .csv) for the official split"
    )
    if len(ids) != CELEBA_NUM_IMAGES:
        return reason, unknown
    text = ids.astype(str)
    if not text.str.fullmatch(r"\d{6}\.jpg").all():
        return reason, unknown
    index = text.str.slice(0, 6).astype(np.int64).to_numpy() - 1
    if not np.array_equal(np.sort(index), np.arange(CELEBA_NUM_IMAGES)):
        return reason, unknown
    codes = np.searchsorted(_OFFICIAL_BOUNDS, index, side="right").astype(np.int8)
    return "official CelebA index ranges (no partition file; ids are the official 202,599)", codes


def _build_hq(layout: DatasetLayout, celeba: DatasetLayout | None) -> pd.DataFrame:
    """The CelebAMask-HQ table; partition and identity through the HQ→CelebA mapping."""
    attrs = read_annotation(layout.files["attributes"], "attributes")
    ids = attrs["image_id"]
    stems = ids.str.replace(r"\.[^.]*$", "", regex=True)
    hq_index = pd.to_numeric(stems, errors="coerce").fillna(-1).to_numpy(np.int32)
    mapping = {"orig_idx": np.int32(-1), "orig_file": ""}
    if "hq_mapping" in layout.files:
        table = read_annotation(layout.files["hq_mapping"], "hq_mapping")
        mapping = _aligned(pd.Series(hq_index), table, "idx", mapping)
    else:
        mapping = {c: np.full(len(ids), fill) for c, fill in mapping.items()}
    orig_files = pd.Series(mapping["orig_file"], dtype=str)
    if celeba is not None and "partition" in celeba.files:
        partition = _optional(celeba, "partition", orig_files, {"partition": np.int8(-1)})
    else:
        codes = np.searchsorted(_OFFICIAL_BOUNDS, mapping["orig_idx"], side="right")
        known = (mapping["orig_idx"] >= 0) & (codes < len(_OFFICIAL_BOUNDS))
        partition = {"partition": np.where(known, codes, -1).astype(np.int8)}
    columns = {"image_id": ids.to_numpy(), **partition}
    columns.update(_optional(celeba, "identity", orig_files, {"identity": np.int32(-1)}))
    columns.update({a: attrs[a].to_numpy() for a in ATTRIBUTE_NAMES})
    columns.update(hq_index=hq_index, orig_idx=mapping["orig_idx"], orig_file=orig_files)
    if "pose" in layout.files:
        columns.update(_optional(layout, "pose", ids, dict.fromkeys(POSE_COLUMNS, np.nan)))
    frame = pd.DataFrame(columns)
    frame.attrs["partition_source"] = _hq_partition_source(celeba, layout)
    return frame
