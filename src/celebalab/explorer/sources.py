"""What the explorer can open: an embedding set, a CelebA-Vis CSV, or a dataset root.

Each SOURCE becomes one :class:`ExplorerSource` with the same metadata columns (``image_id``,
``identity``, ``partition``, the 40 attributes as int8 0/1, -1 missing), optional vectors, the
folder of its images and a fingerprint that keys every cached projection. A CSV is imported once
into an embedding set under the cache (re-imported only when the file changes); a dataset root
has attributes only, so the embedding views are disabled with a note. Anything else is a clear
error before the server starts.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from celebalab.datasets.cache import cache_dir_for
from celebalab.datasets.layout import image_file_name
from celebalab.datasets.schema import ATTRIBUTE_NAMES
from celebalab.errors import CelebalabError

#: Image folders looked for beside a CelebA-Vis CSV (the course copy uses ``img_celeba/``).
CSV_IMAGE_DIRS = ("img_celeba", "img_align_celeba")
NO_EMBEDDINGS_NOTE = (
    "{name} is a dataset root: attributes only, so the map, clustering, metrics of embeddings "
    "and similar faces are disabled (open an embedding set for them)"
)


class SourceError(CelebalabError):
    """A SOURCE given to ``celebalab explore`` cannot be opened."""


@dataclass(frozen=True)
class ExplorerSource:
    """One dataset the app shows: metadata in the embedding-set contract, maybe vectors."""

    name: str
    path: Path
    meta: pd.DataFrame
    vectors: np.ndarray | None
    image_dir: Path | None
    fingerprint: str
    cache_dir: Path
    image_ext: str | None = None
    note: str | None = None
    #: The embedding set behind the source (for the retrieval index and the model of the set).
    embedding_set: Any = None
    #: The run the user named as the maker of the vectors (``explore --model RUN``); it embeds
    #: uploads in place of the run recorded in the set's manifest.
    model_run: Path | None = None

    @property
    def has_embeddings(self) -> bool:
        """Whether the map, clustering and similar-face views are available."""
        return self.vectors is not None

    def __len__(self) -> int:
        return len(self.meta)

    def image_file(self, row: int) -> Path | None:
        """The image file of ``row`` (id → file map built from the dataset), or None.

        The name comes from the dataset's own ``image_id``; an id that is not a bare file name
        (separators, ``..``) never maps to a file.
        """
        if self.image_dir is None or not 0 <= row < len(self.meta):
            return None
        image_id = str(self.meta["image_id"].iat[row])
        if Path(image_id).name != image_id or image_id in ("", ".", ".."):
            return None
        name = image_file_name(image_id, self.image_ext) if self.image_ext else image_id
        return self.image_dir / name


def open_sources(specs: list[str | Path], images: str | Path | None = None) -> list[ExplorerSource]:
    """Open every SOURCE; names are made unique (folder names, then parent/folder)."""
    if not specs:
        raise SourceError("give at least one SOURCE (embedding set, CelebA-Vis CSV, dataset root)")
    sources = [open_source(spec, images=images) for spec in specs]
    names = [s.name for s in sources]
    for i, source in enumerate(sources):
        if names.count(source.name) > 1:
            unique = f"{source.path.parent.name}/{source.name} ({i + 1})"
            sources[i] = replace(source, name=unique)
    return sources


def open_source(spec: str | Path, images: str | Path | None = None) -> ExplorerSource:
    """Open one SOURCE: embedding-set folder, ``*.csv`` (CelebA-Vis) or dataset root."""
    path = Path(spec).expanduser()
    if not path.exists():
        raise SourceError(
            f"{path}: no such file or folder (expected an embedding set folder, "
            "a CelebA-Vis .csv or a CelebA dataset root)"
        )
    if path.is_file():
        if path.suffix.lower() != ".csv":
            raise SourceError(f"{path}: not a CelebA-Vis .csv file, an embedding set or a dataset")
        return _from_csv(path, images)
    if (path / "manifest.json").exists() or (path / "vectors.f32").exists():
        return _from_embeddings(path, path.name, images)
    return _from_dataset(path)


def _from_embeddings(path: Path, name: str, images: str | Path | None) -> ExplorerSource:
    from celebalab.embeddings import load_embeddings

    emb = load_embeddings(path)
    image_dir = Path(images) if images else emb.image_dir
    if image_dir is not None and not image_dir.is_dir():
        raise SourceError(f"{image_dir}: image folder of {path} not found (pass --images DIR)")
    meta = _contract_meta(emb.meta)
    return ExplorerSource(
        name=name,
        path=path,
        meta=meta,
        vectors=emb.vectors,
        image_dir=image_dir,
        fingerprint=emb.fingerprint,
        cache_dir=cache_dir_for(path) / "explorer",
        embedding_set=emb,
        note=None if image_dir else f"{name}: no image folder recorded; pass --images DIR",
    )


def _from_csv(path: Path, images: str | Path | None) -> ExplorerSource:
    """Import the CSV once into ``cache/explorer/csv-<hash of path, size, mtime>``."""
    from celebalab.embeddings import import_celeba_vis_csv, load_embeddings
    from celebalab.embeddings.store import EmbeddingSetError

    stat = path.stat()
    key = hashlib.sha1(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()
    out = cache_dir_for(path.parent) / "explorer" / f"csv-{key[:16]}"
    if images is None:
        images = next((path.parent / d for d in CSV_IMAGE_DIRS if (path.parent / d).is_dir()), None)
    try:
        load_embeddings(out)
    except (EmbeddingSetError, CelebalabError):
        print(f"[explore] importing {path} (once; cached in {out}) …", flush=True)
        import_celeba_vis_csv(path, out, images=images, overwrite=True)
    return _from_embeddings(out, path.stem, images)


def _from_dataset(path: Path) -> ExplorerSource:
    from celebalab.datasets.dataset import open_dataset

    dataset = open_dataset(path)
    meta = _contract_meta(dataset.table)
    digest = hashlib.sha256(pd.util.hash_pandas_object(meta, index=False).to_numpy().tobytes())
    name = dataset.root.name
    return ExplorerSource(
        name=name,
        path=dataset.root,
        meta=meta,
        vectors=None,
        image_dir=dataset.image_dir,
        fingerprint=digest.hexdigest(),
        cache_dir=dataset.cache_dir / "explorer",
        image_ext=dataset.image_ext,
        note=NO_EMBEDDINGS_NOTE.format(name=name),
    )


def _contract_meta(frame: pd.DataFrame) -> pd.DataFrame:
    """image_id (str), identity (int64), partition (int8), attributes (int8), nothing else."""
    missing = [c for c in ("image_id", *ATTRIBUTE_NAMES) if c not in frame.columns]
    if missing:
        raise SourceError(f"metadata lacks columns {missing[:5]}")
    n = len(frame)
    meta = pd.DataFrame({"image_id": frame["image_id"].astype(str).to_numpy(dtype=object)})
    for column, dtype in (("identity", np.int64), ("partition", np.int8)):
        values = frame[column] if column in frame.columns else np.full(n, -1)
        meta[column] = np.asarray(values, dtype=dtype)
    attrs = frame[list(ATTRIBUTE_NAMES)].to_numpy(dtype=np.int8)
    return pd.concat([meta, pd.DataFrame(attrs, columns=list(ATTRIBUTE_NAMES))], axis=1)
