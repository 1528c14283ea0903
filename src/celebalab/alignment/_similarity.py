"""Least-squares similarity transforms (rotation, uniform scale, translation) and the warp.

Why a similarity and not a full affine: face templates are matched up to pose and size only; an
affine fit to five noisy points would also shear and squash the face. The fit is Umeyama's
closed form (1991) without reflection, exact for two points and least squares for more.
"""

from __future__ import annotations

import numpy as np
from PIL import Image


def fit_similarity(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """2×3 matrix ``M`` minimising ``Σ‖M·[p, 1] − q‖²`` over similarity transforms.

    ``source`` and ``target`` are ``n×2`` point arrays (``n ≥ 2``), matched row by row.
    """
    src = np.asarray(source, dtype=np.float64).reshape(-1, 2)
    dst = np.asarray(target, dtype=np.float64).reshape(-1, 2)
    if len(src) != len(dst) or len(src) < 2:
        raise ValueError(f"need ≥ 2 matched points, got {len(src)} and {len(dst)}")
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    s_c, d_c = src - mu_s, dst - mu_d
    var_s = (s_c**2).sum() / len(src)
    if var_s <= 0:
        raise ValueError("source points coincide")
    u, sing, vt = np.linalg.svd(d_c.T @ s_c / len(src))
    flip = np.diag([1.0, np.sign(np.linalg.det(u) * np.linalg.det(vt)) or 1.0])
    rotation = u @ flip @ vt
    scale = float(np.trace(np.diag(sing) @ flip)) / var_s
    translation = mu_d - scale * rotation @ mu_s
    return np.hstack([scale * rotation, translation[:, None]])


def apply_similarity(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Points ``n×2`` mapped through the 2×3 ``matrix``."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return pts @ matrix[:, :2].T + matrix[:, 2]


def warp_image(rgb: np.ndarray, matrix: np.ndarray, width: int, height: int) -> np.ndarray:
    """``height×width×3`` uint8 image whose pixel ``q`` is ``rgb`` at ``M⁻¹·q`` (bilinear).

    ``matrix`` maps pixel indices (pixel ``i`` centred at ``i``, as landmark files and OpenCV
    count) to pixel indices. Large reductions first shrink the image by an integer box filter, so
    that a 1024 px photo warped to 112 px is antialiased rather than sampled every ninth pixel.
    """
    image = Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8))
    linear = np.asarray(matrix[:, :2], dtype=np.float64)
    # Pillow samples at pixel centres i + ½: the same map in those continuous coordinates
    offset = np.asarray(matrix[:, 2], dtype=np.float64) + 0.5 - linear @ [0.5, 0.5]
    factor = int(1.0 / np.sqrt(abs(np.linalg.det(linear))))
    if factor >= 2:
        image = image.reduce(factor)  # continuous coordinates shrink by exactly `factor`
        linear = linear * factor
    inverse = np.linalg.inv(np.vstack([np.hstack([linear, offset[:, None]]), [0.0, 0.0, 1.0]]))
    out = image.transform(
        (width, height),
        Image.Transform.AFFINE,
        tuple(inverse[:2].ravel()),
        Image.Resampling.BILINEAR,
    )
    return np.asarray(out, dtype=np.uint8)
