"""Strips of sample face images per cluster, read from the dataset's image folder when present."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

SEED = 42


def image_strip(
    paths: Sequence[Path], height: int = 112, gap: int = 4
) -> tuple[np.ndarray | None, list[str]]:
    """Side-by-side thumbnails of ``paths`` at ``height`` pixels, and notes on unreadable files."""
    from PIL import Image, UnidentifiedImageError

    from celebalab.datasets.decode import image_error_text

    tiles, notes = [], []
    for path in paths:
        try:
            with Image.open(path) as img:
                img = img.convert("RGB")
                width = max(1, round(img.width * height / img.height))
                tiles.append(np.asarray(img.resize((width, height), Image.Resampling.BILINEAR)))
        except (OSError, UnidentifiedImageError) as err:
            notes.append(f"{path.name}: unreadable ({image_error_text(path, err)}), skipped")
    if not tiles:
        return None, notes
    strip = np.full(
        (height, sum(t.shape[1] for t in tiles) + gap * (len(tiles) - 1), 3), 255, np.uint8
    )
    x = 0
    for tile in tiles:
        strip[:, x : x + tile.shape[1]] = tile
        x += tile.shape[1] + gap
    return strip, notes


def cluster_image_strips(
    image_ids: Sequence[str], labels: np.ndarray, image_dir: str | Path | None, per_cluster: int = 6
) -> tuple[dict[int, np.ndarray], list[str]]:
    """A strip of up to ``per_cluster`` randomly chosen (fixed seed) images for every cluster.

    Returns the strips by cluster and notes (no image folder, unreadable files).
    """
    if image_dir is None or not Path(image_dir).is_dir():
        return {}, [f"no image folder ({image_dir or 'not given'}): sample images skipped"]
    folder = Path(image_dir)
    rng = np.random.default_rng(SEED)
    strips, notes = {}, []
    for cluster in np.unique(labels):
        members = np.flatnonzero(labels == cluster)
        picks = np.sort(rng.choice(members, size=min(per_cluster, members.size), replace=False))
        strip, strip_notes = image_strip([folder / str(image_ids[i]) for i in picks])
        notes.extend(f"cluster {cluster}: {note}" for note in strip_notes)
        if strip is not None:
            strips[int(cluster)] = strip
    return strips, notes
