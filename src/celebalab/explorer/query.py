"""Embedding an uploaded face with the model that made the embedding set, for similar faces.

Only a set extracted by ``celebalab embed extract`` names its model (``manifest.source.run``);
the upload then goes through :func:`celebalab.embeddings.features.file_vectors`, i.e. the same
decoding, crop, size and normalisation as the set itself. A set imported from a CSV has no
local model, which the user is told instead.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from celebalab.explorer.images import UploadError
from celebalab.explorer.sources import ExplorerSource


@functools.lru_cache(maxsize=2)
def _load_run(run_dir: str) -> Any:
    from celebalab.models.run import load_run

    return load_run(run_dir)


def model_of(source: ExplorerSource) -> dict[str, Any] | None:
    """The ``source`` block of the set's manifest when it names a run folder that exists."""
    emb = source.embedding_set
    info = emb.manifest.get("source") if emb is not None else None
    if not info or info.get("type") != "run" or not Path(str(info.get("run"))).is_dir():
        return None
    return info


def embed_upload(source: ExplorerSource, image: Image.Image) -> np.ndarray:
    """The set's vector (D,) of ``image``; UploadError when the set has no local model."""
    from celebalab.embeddings.features import file_vectors

    info = model_of(source)
    if info is None:
        raise UploadError(
            f"{source.name} has no local model to embed a new face (it was not "
            "extracted by `celebalab embed extract`); click a point instead"
        )
    run = _load_run(str(info["run"]))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "query.png"
        image.save(path)
        _, vectors, _, failed = file_vectors(run, [path], normalise=bool(info.get("normalise")))
    if failed or len(vectors) != 1:
        raise UploadError("the image could not be prepared for the model")
    return vectors[0]
