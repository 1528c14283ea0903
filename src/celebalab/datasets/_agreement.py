"""Do the two annotation sets of one folder agree (Kaggle CSVs beside the official txt files)?

People who downloaded both keep them side by side. One set is read (the official one, see
:mod:`celebalab.datasets.layout`); its twins are only checked here, row by row, so that a copy
that silently differs is refused with the first disagreement as ``file:line`` instead of being
ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from celebalab.datasets.annotations import parse_annotation
from celebalab.datasets.layout import DatasetLayout
from celebalab.errors import DataFormatError


def check_copies(
    layout: DatasetLayout, frames: Mapping[str, pd.DataFrame] | None = None
) -> list[DataFormatError]:
    """The first disagreement of each twin file in ``layout.copies`` with the file that is read
    (an empty list when they all agree). ``frames`` (kind → frame) are files already parsed, so
    that only the twins are parsed here."""
    found = []
    for kind, copy in layout.copies.items():
        known = (frames or {}).get(kind)
        problem = first_disagreement(layout.files[kind], copy, kind, known)
        if problem is not None:
            found.append(problem)
    return found


def first_disagreement(
    read: Path, copy: Path, kind: str, read_frame: pd.DataFrame | None = None
) -> DataFormatError | None:
    """The first row where ``copy`` differs from ``read`` (ids, values or row count), located at
    its line in ``copy`` and naming the line in ``read``; None when they hold the same rows.

    ``read_frame`` is ``read`` already parsed without problems (it is then parsed again only to
    name a line). A problem of ``copy`` itself counts as a disagreement; problems of ``read``
    are left to its own parse (they are reported wherever it is read).
    """
    theirs = parse_annotation(copy, kind, max_problems=1)
    if theirs.problems:
        return theirs.problems[0]
    a, b = read_frame, theirs.frame
    if a is None:
        ours = parse_annotation(read, kind, max_problems=1)
        if ours.problems:
            return None
        a = ours.frame
    problem = _first_difference(a, b, kind)
    if problem is None:
        return None
    row, what = problem
    lines = parse_annotation(read, kind, max_problems=1).lines  # only now: naming the line
    after = f"; {read.name} is read, {copy.name} only checked: fix or remove {copy.name}"
    if row < min(len(a), len(b)):
        where = f"disagrees with {read}:{lines[row]}: {what}"
        return DataFormatError(copy, where + after, int(theirs.lines[row]))
    if len(b) > len(a):
        where = f"row not in {read} (which has {len(a)} rows)"
        return DataFormatError(copy, where + after, int(theirs.lines[row]))
    line = int(theirs.lines[-1]) + 1 if len(b) else 2
    where = f"ends after {len(b)} rows but {read} goes on at line {lines[row]}"
    return DataFormatError(copy, where + after, line)


def _first_difference(a: pd.DataFrame, b: pd.DataFrame, kind: str) -> tuple[int, str] | None:
    """(row, what differs) of the first row where ``b`` is not ``a``; a row count difference is
    reported at the first row only one of them has. None when equal."""
    n = min(len(a), len(b))
    differs = {c: a[c].to_numpy()[:n] != b[c].to_numpy()[:n] for c in a.columns}
    rows = np.logical_or.reduce(list(differs.values()))
    if rows.any():
        i = int(np.flatnonzero(rows)[0])
        what = "; ".join(
            f"{c} is {_shown(kind, c, b[c].iloc[i])} here but {_shown(kind, c, a[c].iloc[i])} there"
            for c, bad in differs.items()
            if bad[i]
        )
        return i, what
    return (n, "row count") if len(a) != len(b) else None


def _shown(kind: str, column: str, value: object) -> str:
    """A value as the files write it (attributes as -1/1, ids quoted)."""
    if kind == "attributes" and column != "image_id":
        return "1" if int(value) else "-1"
    return repr(value) if isinstance(value, str) else str(value)
