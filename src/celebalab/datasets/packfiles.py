"""Files shared by the image pack and the label-map pack: paths, allocation, resume log.

A pack is ``<kind>_<S>_<crop>.u8`` (rows), ``.index.parquet`` (which row is which image) and
``.json`` (the manifest, written last: a pack without it is never read). While it is built, rows
go to ``.u8.partial`` and the resume state to ``.progress.log``: an append-only log whose first
line is the plan and every further line one finished chunk. Appending one short line per chunk
costs the same whatever the dataset's size (the JSON state it replaces was rewritten whole after
every chunk: 11 MB, ~790 times, on a partial CelebA copy); a line torn by ``kill -9`` is ignored,
so that chunk is simply decoded again.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from celebalab.datasets.cache import cache_dir_for
from celebalab.errors import CelebalabError


@dataclass(frozen=True)
class PackPaths:
    """The files of one pack (size, crop) of one dataset root."""

    data: Path
    partial: Path
    progress: Path
    index: Path
    manifest: Path

    @classmethod
    def of(cls, root: str | Path, size: int, crop: str, kind: str = "packed") -> PackPaths:
        """Paths of the (``size``, ``crop``) pack of ``root`` in its cache folder.

        ``kind`` names the pack's files (``packed`` images, ``labels`` for the label-map pack).
        """
        stem = cache_dir_for(root) / f"{kind}_{size}_{crop}"
        data = stem.with_name(stem.name + ".u8")
        return cls(
            data=data,
            partial=data.with_name(data.name + ".partial"),
            progress=stem.with_name(stem.name + ".progress.log"),
            index=stem.with_name(stem.name + ".index.parquet"),
            manifest=stem.with_name(stem.name + ".json"),
        )

    def drop_older_progress(self) -> None:
        """Remove the JSON progress file of earlier versions (its pack is redone from scratch)."""
        self.progress.with_suffix(".json").unlink(missing_ok=True)


class ProgressLog:
    """Append-only resume state: the plan (one JSON line), then one JSON line per finished chunk
    ``{"chunk": c, "bad": [[position, reason], …]}``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def resume(self, plan: dict[str, Any]) -> dict[int, list[list[Any]]] | None:
        """Finished chunks (index → bad rows) of a log started with ``plan``; None otherwise."""
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            return None
        if not lines or _json_line(lines[0]) != {"plan": plan}:
            return None
        done: dict[int, list[list[Any]]] = {}
        for line in lines[1:]:
            entry = _json_line(line)
            if isinstance(entry, dict) and isinstance(entry.get("chunk"), int):
                done[entry["chunk"]] = entry.get("bad", [])
        return done

    def start(self, plan: dict[str, Any]) -> None:
        """Begin a fresh log holding only ``plan``."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps({"plan": plan}) + "\n", encoding="utf-8")

    def record(self, chunk: int, bad: list[list[Any]]) -> None:
        """Append one finished chunk (after its rows were flushed)."""
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"chunk": chunk, "bad": bad}) + "\n")

    def remove(self) -> None:
        """Drop the log (the pack is complete)."""
        self.path.unlink(missing_ok=True)


def _json_line(line: str) -> Any:
    try:
        return json.loads(line)
    except ValueError:  # a line torn by kill -9
        return None


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``; None when it is missing, unreadable or not an object."""
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


def ids_fingerprint(image_ids: Sequence[str]) -> str:
    """SHA-256 of the ordered image ids (one per line)."""
    return hashlib.sha256("\n".join(image_ids).encode()).hexdigest()


def allocate(path: Path, nbytes: int, error: type[CelebalabError] = CelebalabError) -> None:
    """Create ``path`` as ``nbytes`` zeros, reserving the disk space now where the OS can.

    A full disk then fails here with a clear ``error`` instead of killing a worker with SIGBUS
    when it writes into a memory-mapped hole.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        fh.truncate(nbytes)  # zeros: rows of unreadable images stay zero
        if hasattr(os, "posix_fallocate") and nbytes:
            try:
                os.posix_fallocate(fh.fileno(), 0, nbytes)
            except OSError as err:
                if err.errno == errno.ENOSPC:
                    path.unlink()
                    raise error(
                        f"{path}: not enough disk space for the pack ({nbytes / 2**30:.2f} GiB); "
                        "free space or set CELEBALAB_CACHE to another disk"
                    ) from None
                # EOPNOTSUPP/EINVAL: the file system cannot reserve space; it stays sparse
