"""Pictures for reports: label maps laid over faces, and grids of faces."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from celebalab.datasets.masks import label_map_to_color


def overlay_label_map(image: np.ndarray, label_map: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """H×W×3 uint8: ``image`` blended with the class colours of ``label_map`` (same H×W)."""
    image = np.asarray(image)
    label_map = np.asarray(label_map)
    if image.shape[:2] != label_map.shape[:2]:
        raise ValueError(
            f"image {image.shape[:2]} and label map {label_map.shape[:2]} differ in size"
        )
    colours = label_map_to_color(label_map).astype(np.float32)
    blend = (1 - alpha) * image[..., :3].astype(np.float32) + alpha * colours
    return np.clip(np.rint(blend), 0, 255).astype(np.uint8)


def face_grid(
    images: Sequence[np.ndarray], columns: int = 8, pad: int = 2, fill: int = 255
) -> np.ndarray:
    """Tile same-size H×W×3 images row by row into one uint8 picture with ``pad`` px gaps."""
    if not len(images):
        raise ValueError("face_grid needs at least one image")
    h, w = np.asarray(images[0]).shape[:2]
    columns = max(1, min(columns, len(images)))
    rows = -(-len(images) // columns)
    grid = np.full((rows * (h + pad) - pad, columns * (w + pad) - pad, 3), fill, dtype=np.uint8)
    for k, img in enumerate(images):
        r, c = divmod(k, columns)
        grid[r * (h + pad) : r * (h + pad) + h, c * (w + pad) : c * (w + pad) + w] = np.asarray(
            img
        )[..., :3]
    return grid
