"""``manifest.json`` of an embedding set as a typed record (:class:`EmbeddingSetInfo`).

Sets written before the record existed read the same: optional keys take their defaults and
keys the record does not declare are kept (:class:`celebalab.rundir.Record`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from celebalab.rundir import OMIT_NONE, Record


@dataclass(frozen=True, kw_only=True)
class EmbeddingSource(Record):
    """Where the vectors came from: a celebalab run (``type`` "run") or a file ("csv", "npy")."""

    type: str
    run: str | None = field(default=None, metadata=OMIT_NONE)
    file: str | None = field(default=None, metadata=OMIT_NONE)
    arch: str | None = None
    task: str | None = None
    image_size: int | None = field(default=None, metadata=OMIT_NONE)
    crop: str | None = field(default=None, metadata=OMIT_NONE)
    alignment: dict[str, Any] | None = field(default=None, metadata=OMIT_NONE)
    normalise: bool | None = field(default=None, metadata=OMIT_NONE)
    split: str | None = field(default=None, metadata=OMIT_NONE)

    @property
    def run_dir(self) -> Path | None:
        """The run that made the vectors, when it did and its folder still exists."""
        if self.type != "run" or not self.run or not Path(self.run).is_dir():
            return None
        return Path(self.run)


@dataclass(frozen=True, kw_only=True)
class EmbeddingData(Record):
    """The dataset the set's metadata came from (``root``, ``fingerprint``; imports with
    ``--root`` add how many of their images it ``matched``)."""

    root: str | None = None
    fingerprint: str | None = None
    run_data_fingerprint: str | None = field(default=None, metadata=OMIT_NONE)
    matched: int | None = field(default=None, metadata=OMIT_NONE)
    unmatched: int | None = field(default=None, metadata=OMIT_NONE)


@dataclass(frozen=True, kw_only=True)
class EmbeddingSetInfo(Record):
    """What ``manifest.json`` says about a set (layout in :mod:`celebalab.embeddings.store`)."""

    format_version: int
    kind: str
    celebalab_version: str = ""
    dim: int
    count: int
    normalised: bool
    source: EmbeddingSource = field(default_factory=lambda: EmbeddingSource(type="unknown"))
    data: EmbeddingData = field(default_factory=EmbeddingData)
    images: str | None = None
    attribute_names: tuple[str, ...]
    has_probabilities: bool = False
    fingerprint: str
    #: Unreadable images of an extraction (``{"image_id", "reason"}``).
    skipped: tuple[dict[str, str], ...] | None = field(default=None, metadata=OMIT_NONE)
    #: Table rows without an image file: ``{"count", "list"}`` (the file naming them).
    missing: dict[str, Any] | None = field(default=None, metadata=OMIT_NONE)
