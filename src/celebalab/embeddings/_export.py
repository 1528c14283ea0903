"""``celebalab embed export``: an embedding set written as a CelebA-Vis CSV.

Why: the CelebA-Vis course files (``celeba_buffalo_s/l.csv``) are what its users' own code reads,
so a set extracted from a user's CelebA copy and model pack can stand in for them. The layout is
the one :func:`celebalab.embeddings.importers.import_celeba_vis_csv` reads back::

    <40 attribute columns, -1/1>,image_name,id,embedding_0,…,embedding_{D-1}

Rows are written in chunks (a 200,000 × 512 set never becomes one string in memory) into a
temporary file that replaces ``out`` only when complete. Floats carry 9 significant digits, which
is enough to read every float32 back exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from celebalab.datasets.schema import ATTRIBUTE_NAMES
from celebalab.embeddings.store import EmbeddingSet, EmbeddingSetError, load_embeddings
from celebalab.io import atomic_path, check_output_file

FLOAT_FORMAT = "%.9g"
_CHUNK_ROWS = 4096


def export_celeba_vis(
    emb: EmbeddingSet | str | Path, out: str | Path, overwrite: bool = False
) -> Path:
    """Write the set ``emb`` (a set or its folder) as the CelebA-Vis CSV ``out``; return ``out``.

    Refuses, before writing anything, a set whose images lack attribute labels (the layout has
    no "missing" value) and an existing ``out`` unless ``overwrite``.
    """
    out = check_output_file(out, "--out", overwrite=overwrite)
    emb = load_embeddings(emb) if isinstance(emb, (str, Path)) else emb
    labels = _vis_labels(emb)
    with atomic_path(out) as tmp, open(tmp, "w", encoding="utf-8", newline="") as handle:
        for first, chunk in enumerate(_chunks(emb, labels)):
            chunk.to_csv(handle, header=first == 0, index=False,
                         float_format=FLOAT_FORMAT, lineterminator="\n")  # fmt: skip
    return out


def _vis_labels(emb: EmbeddingSet) -> np.ndarray:
    """The set's labels as CelebA's -1/1 (``N×40`` int8); a clear error when some are missing."""
    labels = emb.labels()
    missing = (labels < 0).any(axis=1)
    if missing.any():
        raise EmbeddingSetError(
            f"{emb.path}: {int(missing.sum())} of {len(emb)} images have no attribute labels "
            "(the CelebA-Vis layout needs all 40 for every image); re-create the set with "
            "labels: `celebalab embed extract RUN CELEBA_ROOT` or `embed import … --root "
            "CELEBA_ROOT`"
        )
    return np.where(labels > 0, 1, -1).astype(np.int8)


def _chunks(emb: EmbeddingSet, labels: np.ndarray) -> Iterator[pd.DataFrame]:
    """Row blocks of the CSV, in the layout's column order (at least one, for the header)."""
    names, identities = emb.meta["image_id"].astype(str), emb.meta["identity"].to_numpy(np.int64)
    for start in range(0, max(len(emb), 1), _CHUNK_ROWS):
        rows = slice(start, start + _CHUNK_ROWS)
        block: dict[str, Any] = dict(zip(ATTRIBUTE_NAMES, labels[rows].T, strict=True))
        block["image_name"] = names.iloc[rows].to_numpy()
        block["id"] = identities[rows]
        vectors = np.asarray(emb.vectors[rows], dtype=np.float32)
        block.update((f"embedding_{k}", vectors[:, k]) for k in range(emb.dim))
        yield pd.DataFrame(block)
