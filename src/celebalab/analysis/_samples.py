"""Strips of sample face images per cluster, read from the dataset's image folder when present."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from celebalab.datasets.layout import image_file_name

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
    image_ids: Sequence[str],
    labels: np.ndarray,
    image_dir: str | Path | None,
    per_cluster: int = 6,
    image_ext: str | None = None,
    existing: set[str] | None = None,
) -> tuple[dict[int, np.ndarray], list[str]]:
    """A strip of up to ``per_cluster`` randomly chosen (fixed seed) images for every cluster.

    Faces are drawn only from rows whose image file exists (a partial copy, e.g. 6,032 of the
    202,599 images, is common), and the notes say how many were available. ``image_ext`` is the
    extension of the files on disk (``.png`` for ``img_align_celeba_png``; default: the id's own).
    ``existing`` names the files that exist (a Dataset's cached scan); None lists the folder.
    Returns the strips by cluster and notes (no image folder, missing or unreadable files).
    """
    if image_dir is None or not Path(image_dir).is_dir():
        return {}, [f"no image folder ({image_dir or 'not given'}): sample images skipped"]
    folder = Path(image_dir)
    names = np.array(
        [image_file_name(str(i), image_ext) if image_ext else str(i) for i in image_ids]
    )
    if existing is None:
        with os.scandir(folder) as entries:
            existing = {e.name for e in entries}
    available = np.fromiter((n in existing for n in names), dtype=bool, count=len(names))
    notes = []
    if not available.all():
        notes.append(
            f"sample faces drawn from the {int(available.sum()):,} of {len(names):,} rows "
            f"whose image file exists in {folder}"
        )
    rng = np.random.default_rng(SEED)
    strips = {}
    for cluster in np.unique(labels):
        members = np.flatnonzero((labels == cluster) & available)
        if not members.size:
            notes.append(f"cluster {cluster}: no image file of its rows exists, no sample faces")
            continue
        picks = np.sort(rng.choice(members, size=min(per_cluster, members.size), replace=False))
        strip, strip_notes = image_strip([folder / names[i] for i in picks])
        notes.extend(f"cluster {cluster}: {note}" for note in strip_notes)
        if strip is not None:
            strips[int(cluster)] = strip
    return strips, notes
