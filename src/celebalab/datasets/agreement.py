"""Do the two annotation sets of one folder agree (Kaggle CSVs beside the official txt files)?

People who downloaded both keep them side by side. One set is read (the official one, see
:mod:`celebalab.datasets.layout`); its twins are only checked here, row by row, so that a copy
that silently differs is refused with the first disagreement as ``file:line`` instead of being
ignored.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from celebalab.datasets.annotations import parse_annotation
from celebalab.datasets.layout import DatasetLayout
from celebalab.errors import DataFormatError


def check_copies(layout: DatasetLayout) -> list[DataFormatError]:
    """The first disagreement of each twin file in ``layout.copies`` with the file that is read
    (an empty list when they all agree)."""
    found = []
    for kind, copy in layout.copies.items():
        problem = first_disagreement(layout.files[kind], copy, kind)
        if problem is not None:
            found.append(problem)
    return found


def first_disagreement(read: Path, copy: Path, kind: str) -> DataFormatError | None:
    """The first row where ``copy`` differs from ``read`` (ids, values or row count), located at
    its line in ``copy`` and naming the line in ``read``; None when they hold the same rows.

    A problem of ``copy`` itself counts as a disagreement; problems of ``read`` are left to its
    own parse (they are reported wherever it is read).
    """
    ours, theirs = parse_annotation(read, kind, max_problems=1), parse_annotation(copy, kind, 1)
    if theirs.problems:
        return theirs.problems[0]
    if ours.problems:
        return None
    a, b = ours.frame, theirs.frame
    n = min(len(a), len(b))
    differs = {c: a[c].to_numpy()[:n] != b[c].to_numpy()[:n] for c in a.columns}
    rows = np.logical_or.reduce(list(differs.values())) if differs else np.zeros(n, dtype=bool)
    after = f"; {read.name} is read, {copy.name} only checked: fix or remove {copy.name}"
    if rows.any():
        i = int(np.flatnonzero(rows)[0])
        what = "; ".join(
            f"{c} is {_shown(kind, c, b[c].iloc[i])} here but {_shown(kind, c, a[c].iloc[i])} there"
            for c, bad in differs.items()
            if bad[i]
        )
        return DataFormatError(
            copy, f"disagrees with {read}:{ours.lines[i]}: {what}{after}", int(theirs.lines[i])
        )
    if len(b) > n:
        return DataFormatError(
            copy, f"row not in {read} (which has {len(a)} rows){after}", int(theirs.lines[n])
        )
    if len(a) > n:
        line = int(theirs.lines[-1]) + 1 if n else 2
        return DataFormatError(
            copy,
            f"ends after {n} rows but {read} goes on at line {ours.lines[n]}{after}",
            line,
        )
    return None


def _shown(kind: str, column: str, value: object) -> str:
    """A value as the files write it (attributes as -1/1, ids quoted)."""
    if kind == "attributes" and column != "image_id":
        return "1" if int(value) else "-1"
    return repr(value) if isinstance(value, str) else str(value)
