"""The current selection as a table: its rows' ids, labels, cluster and map position.

What a user lassoed, boxed or filtered (chips, person, cluster) becomes one pandas DataFrame
(:func:`selection_frame`): the page's table view shows it a page at a time, sorted by any column
(:func:`table_page`), and the export buttons download it as CSV or Parquet (:func:`export_bytes`),
the same frame ``Explorer.selection_frame`` gives in Python.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from celebalab.datasets.schema import ATTRIBUTE_NAMES

#: Columns of a selection, in order.
COLUMNS = ("image_id", "identity", "partition", "cluster", "x", "y", *ATTRIBUTE_NAMES)
#: Download formats: file extension → MIME type.
FORMATS = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet"}
#: Rows per page of the table view, and the most a page may hold.
PAGE_SIZE = 15
MAX_PAGE_SIZE = 200


def selection_frame(
    meta: pd.DataFrame, rows: np.ndarray, labels: np.ndarray | None, xy: np.ndarray | None
) -> pd.DataFrame:
    """The selection's table (``COLUMNS``), one row per dataset row in ``rows``, in that order.

    ``cluster`` is -1 for noise; ``cluster``, ``x`` and ``y`` are missing (``<NA>``, NaN) for a
    source without embeddings (``labels``/``xy`` None). The index is the dataset row."""
    rows = np.asarray(rows, dtype=np.int64)
    embedded = labels is not None and xy is not None
    frame = pd.DataFrame(
        {
            "image_id": meta["image_id"].to_numpy()[rows],
            "identity": meta["identity"].to_numpy()[rows],
            "partition": meta["partition"].to_numpy()[rows],
            **{
                column: column_values(meta, rows, labels, xy, column)
                if embedded
                else np.full(len(rows), np.nan)
                for column in ("cluster", "x", "y")
            },
        },
        index=pd.Index(rows, name="row"),
    )
    frame["cluster"] = frame["cluster"].astype("Int32")
    attributes = meta.iloc[rows][list(ATTRIBUTE_NAMES)].to_numpy()  # the rows' only
    return pd.concat(
        [frame, pd.DataFrame(attributes, columns=list(ATTRIBUTE_NAMES), index=frame.index)],
        axis=1,
    )


def column_values(
    meta: pd.DataFrame,
    rows: np.ndarray,
    labels: np.ndarray | None,
    xy: np.ndarray | None,
    column: str,
) -> np.ndarray:
    """One column of the selection's table for ``rows``, without building the table."""
    if column == "cluster":
        return np.asarray(labels)[rows] if labels is not None else np.full(len(rows), np.nan)
    if column in ("x", "y"):
        axis = 0 if column == "x" else 1
        return np.asarray(xy)[rows, axis] if xy is not None else np.full(len(rows), np.nan)
    return meta[column].to_numpy()[rows]


def table_page(
    meta: pd.DataFrame,
    rows: np.ndarray,
    labels: np.ndarray | None,
    xy: np.ndarray | None,
    page: int,
    size: int,
    sort_by: Sequence[Mapping[str, Any]] | None,
) -> tuple[list[dict[str, Any]], int]:
    """(records of page ``page`` of the selection ``rows`` sorted by ``sort_by``, pages).

    ``sort_by`` is the DataTable's ``[{"column_id", "direction": "asc"|"desc"}]``, first key
    first; the sort is stable (equal rows stay in dataset order) and runs on the sorted columns
    only, so only the page's rows become a table: a page of 5,000,000 rows costs their sort."""
    rows = np.asarray(rows, dtype=np.int64)
    if sort_by:
        keys = []
        for key in reversed(sort_by):  # np.lexsort: the last key is the primary one
            _, rank = np.unique(
                column_values(meta, rows, labels, xy, key["column_id"]), return_inverse=True
            )
            keys.append(rank if key["direction"] == "asc" else -rank)
        rows = rows[np.lexsort(keys)]
    pages = max(1, -(-len(rows) // size))
    page = min(max(page, 0), pages - 1)
    part = selection_frame(meta, rows[page * size : (page + 1) * size], labels, xy)
    records = part.astype(object).where(part.notna(), None).to_dict("records")
    for record in records:
        for axis in ("x", "y"):
            if record[axis] is not None:
                record[axis] = round(float(record[axis]), 4)
    return records, pages


def export_bytes(frame: pd.DataFrame, kind: str) -> bytes:
    """The selection as a CSV (header, one line per row) or a Parquet file."""
    if kind == "csv":
        return frame.to_csv(index=False).encode()
    if kind == "parquet":
        out = io.BytesIO()
        frame.to_parquet(out, index=False)
        return out.getvalue()
    raise ValueError(f"export format must be one of {', '.join(FORMATS)}, not {kind!r}")
