"""Where celebalab keeps derived files (metadata Parquet, packed images) for a dataset root."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def cache_dir_for(root: str | Path) -> Path:
    """Cache folder for ``root``: ``ROOT/.celebalab_cache`` when writable, else a per-user folder.

    ``CELEBALAB_CACHE`` overrides the base for every dataset (useful for read-only dataset copies);
    the per-dataset sub-folder is then named by a hash of the resolved root path.
    """
    root = Path(root).resolve()
    name = hashlib.sha1(str(root).encode()).hexdigest()[:16]
    base = os.environ.get("CELEBALAB_CACHE")
    if base:
        return Path(base) / name
    if os.access(root, os.W_OK):
        return root / ".celebalab_cache"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "celebalab" / name
