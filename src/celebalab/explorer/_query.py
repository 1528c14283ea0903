"""Embedding an uploaded face with the model that made the embedding set, for similar faces.

A set extracted by ``celebalab embed extract`` names its run (``manifest.source.run``); for any
other set (a CelebA-Vis CSV, a ``.npy`` import) the user names it: ``explore SET --model RUN``
(:func:`use_model`, which checks that the run's vectors have the set's dimension before the
server starts). The upload then goes through
:func:`celebalab.embeddings.features.file_vectors`, i.e. the same decoding, alignment, size and
normalisation as the set itself. A set with neither is told so instead.
"""

from __future__ import annotations

import functools
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from celebalab.errors import OptionError
from celebalab.explorer._images import UploadError
from celebalab.explorer.sources import ExplorerSource


@functools.lru_cache(maxsize=2)
def _load_run(run_dir: str) -> Any:
    from celebalab.models.run import load_run

    return load_run(run_dir)


def use_model(sources: list[ExplorerSource], run_dir: str | Path) -> list[ExplorerSource]:
    """``sources`` whose uploads are embedded through ``run_dir`` (``explore --model RUN``).

    Every source with vectors gets the run; one line of error when none has vectors or when the
    run's vectors and a set's differ in dimension (the run cannot be the one that made them).
    """
    with_vectors = [s for s in sources if s.embedding_set is not None]
    if not with_vectors:
        raise OptionError(f"--model {run_dir}: no SOURCE is an embedding set to search")
    run = Path(run_dir).resolve()
    dim = output_dimension(_load_run(str(run)))
    for source in with_vectors:
        if source.embedding_set.dim != dim:
            raise OptionError(
                f"--model {run_dir}: the run gives {dim}-dimensional vectors, {source.name} "
                f"holds {source.embedding_set.dim}-dimensional ones; name the run that made them"
            )
    return [replace(s, model_run=run) if s.embedding_set is not None else s for s in sources]


def output_dimension(run: Any) -> int:
    """Width of the vectors ``run`` gives an embedding set (one blank image through it)."""
    from celebalab.embeddings.features import run_vectors

    size = int(run.image_size)
    vectors, _ = run_vectors(run, np.zeros((1, 3, size, size), np.uint8))
    return int(vectors.shape[1])


def model_of(source: ExplorerSource) -> tuple[Path, bool] | None:
    """(run folder, normalise) that embeds uploads for ``source``, or None when it has none.

    The run named by ``--model`` comes first (normalising as the set's vectors are), then the
    run in the set's manifest when its folder exists.
    """
    emb = source.embedding_set
    if emb is None:
        return None
    if source.model_run is not None:
        return source.model_run, emb.normalised
    run = emb.info.source.run_dir
    return None if run is None else (run, bool(emb.info.source.normalise))


def embed_upload(source: ExplorerSource, image: Image.Image) -> np.ndarray:
    """The set's vector (D,) of ``image``; UploadError when the set has no model or the image
    cannot be prepared for it (no face found, …)."""
    from celebalab.embeddings.features import file_vectors

    model = model_of(source)
    if model is None:
        raise UploadError(
            f"{source.name} has no local model to embed a new face (it was not extracted by "
            "`celebalab embed extract`; name its run with `celebalab explore SET --model RUN`); "
            "click a point instead"
        )
    run_dir, normalise = model
    run = _load_run(str(run_dir))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "query.png"
        image.save(path)
        _, vectors, _, failed = file_vectors(run, [path], normalise=normalise)
    if failed or len(vectors) != 1:
        reason = failed[0][1] if failed else "no vector"
        raise UploadError(f"the image could not be prepared for the model ({reason})")
    return vectors[0]
