"""Five-point face templates: where a model expects the eyes, nose tip and mouth corners.

Points are in image order as CelebA lists them: the eye on the image's left (CelebA's
``lefteye``), the eye on the image's right, the nose tip, the mouth corner on the image's left,
the one on the image's right; coordinates in output pixels, pixel centres at ``i + ½``
(the convention of the landmark files is integer pixel indices; the difference is a constant
half-pixel shift that the similarity fit absorbs on both sides).
"""

from __future__ import annotations

import numpy as np

#: InsightFace's ArcFace alignment template for 112×112 inputs (``insightface.utils.face_align``
#: ``arcface_dst``): the template every InsightFace recognition model (``buffalo_s``/``buffalo_l``
#: packs, ``w600k_*.onnx``) was trained on.
ARCFACE_112 = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float64,
)

#: Named templates ``--alignment`` accepts besides ``crop`` and ``dlib``.
TEMPLATES: dict[str, np.ndarray] = {"arcface": ARCFACE_112}


def scaled_template(name: str, size: int) -> np.ndarray:
    """The template ``name`` for a ``size``×``size`` input (ArcFace's is defined at 112 px)."""
    if name not in TEMPLATES:
        raise ValueError(f"unknown template {name!r}; known: {', '.join(TEMPLATES)}")
    return TEMPLATES[name] * (size / 112.0)


def eye_centres(points: np.ndarray) -> np.ndarray:
    """The two eye points (image left, image right) of a 5-point template or landmark set."""
    return np.asarray(points, dtype=np.float64).reshape(5, 2)[:2]
