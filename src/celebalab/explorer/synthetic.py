"""Synthetic embedding sets: person-clustered vectors for a metadata table, no model needed.

Why: the explorer's tests, its benchmark (202,599 faces) and a quick look at a synthetic
dataset need embeddings with the structure of real ones — images of one person close together
— without training or downloading a face model. Each identity gets a random unit centre; each
image is its centre plus Gaussian noise, L2-normalised. Images of unknown identity are noise.
The set is written by :func:`celebalab.embeddings.store.write_embedding_set` (same format as
``embed extract``), in chunks, so 202,599 × 512 needs little memory.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

_CHUNK = 32768


def write_synthetic_set(
    out: str | Path,
    table: pd.DataFrame,
    *,
    dim: int = 64,
    noise: float = 0.6,
    seed: int = 0,
    images: str | Path | None = None,
):
    """Write an embedding set for ``table`` (image_id, identity, partition, attributes) to ``out``.

    ``noise`` is the per-coordinate spread relative to a unit centre (larger: people overlap
    more). Returns the :class:`~celebalab.embeddings.EmbeddingSet`.
    """
    from celebalab.embeddings.store import standard_meta, write_embedding_set

    if dim < 2 or noise < 0:
        raise ValueError("dim must be at least 2 and noise non-negative")
    identity = table["identity"].to_numpy(np.int64)
    rng = np.random.default_rng(seed)
    people, inverse = np.unique(identity, return_inverse=True)
    centres = rng.normal(size=(len(people), dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    centres[people < 0] = 0.0
    scale = np.float32(noise / np.sqrt(dim))

    def chunks():
        for start in range(0, len(table), _CHUNK):
            part = inverse[start : start + _CHUNK]
            block = centres[part] + scale * rng.normal(size=(len(part), dim)).astype(np.float32)
            yield block / np.linalg.norm(block, axis=1, keepdims=True)

    meta = standard_meta(
        table["image_id"].astype(str), identity, table["partition"].to_numpy(np.int8), table
    )
    return write_embedding_set(
        out,
        chunks(),
        meta,
        images=images,
        source={"type": "synthetic", "dim": dim, "noise": noise, "seed": seed},
    )
