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
    base = os.environ.get("CELEBALAB_CACHE")
    if base:
        return Path(base) / hashlib.sha1(str(root).encode()).hexdigest()[:16]
    local = root / ".celebalab_cache"
    if os.access(root, os.W_OK):
        return local
    user = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "celebalab"
    return user / hashlib.sha1(str(root).encode()).hexdigest()[:16]
