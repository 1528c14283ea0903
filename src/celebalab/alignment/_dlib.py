"""dlib's face detector, 5-point landmark predictor and ResNet face descriptor, loaded lazily.

Why these files and no others: they come *inside* registry packages (``dlib-bin`` brings dlib
with its HOG frontal-face detector; ``face-recognition-models`` brings the trained files), so pip
installs them like code and nothing is downloaded at run time. celebalab uses

- the HOG detector built into dlib (Boost Software Licence);
- ``shape_predictor_5_face_landmarks.dat`` (Davis King, trained on dlib's own CC0 5-point
  dataset; CC0);
- ``dlib_face_recognition_resnet_model_v1.dat`` (Davis King, released into the public domain);

and never ``shape_predictor_68_face_landmarks.dat``, whose iBUG 300-W training data forbids
commercial use. ``face_recognition_models/__init__.py`` imports ``pkg_resources``, which recent
setuptools no longer ship, so the files are located without importing the package.

dlib objects are not shared between threads: each thread gets its own (``threading.local``).
"""

from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from celebalab.errors import CelebalabError

PREDICTOR_FILE = "shape_predictor_5_face_landmarks.dat"
DESCRIPTOR_FILE = "dlib_face_recognition_resnet_model_v1.dat"
LICENCE_NOTE = (
    "dlib ResNet face descriptor (Davis King; public domain) with dlib's HOG detector (Boost "
    "Software Licence) and 5-point landmark predictor (CC0), from the dlib-bin and "
    "face-recognition-models packages; the 68-point predictor (non-commercial data) is not used"
)
#: Images whose longer side exceeds this are shrunk for detection only (landmarks use full size).
DETECT_MAX_SIDE = 800
#: dlib's HOG detector finds faces of about 80 px and up: a small image without a face found is
#: searched again upsampled once (4× the work, so only when the first pass found nothing).
UPSAMPLE_BELOW_SIDE = 400

_local = threading.local()


def dlib_file(name: str) -> Path:
    """Path of one of face-recognition-models' files, or a one-line error saying what to install."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise CelebalabError(
            "face-recognition-models is not installed (pip install face-recognition-models)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / name
    if not path.is_file():
        raise CelebalabError(f"{path}: missing from face-recognition-models; reinstall it")
    return path


def _dlib() -> Any:
    try:
        import dlib
    except ImportError:
        raise CelebalabError("dlib is not installed (pip install dlib-bin)") from None
    return dlib


def _tools() -> Any:
    """This thread's detector and predictor."""
    if not hasattr(_local, "detector"):
        dlib = _dlib()
        _local.detector = dlib.get_frontal_face_detector()
        _local.predictor = dlib.shape_predictor(str(dlib_file(PREDICTOR_FILE)))
    return _local


def descriptor_model() -> Any:
    """This thread's dlib ResNet face descriptor (``compute_face_descriptor``)."""
    if not hasattr(_local, "descriptor"):
        _local.descriptor = _dlib().face_recognition_model_v1(str(dlib_file(DESCRIPTOR_FILE)))
    return _local.descriptor


@dataclass(frozen=True)
class DetectedFace:
    """The face chosen in an image: dlib's 5 points (``shape``), its box and how many were found.

    ``points`` are dlib's five (outer and inner corner of the eye on the image's right, the same
    of the eye on the image's left, the base of the nose) as ``5×2`` pixel coordinates.
    """

    shape: Any
    box: tuple[int, int, int, int]
    faces_found: int

    @property
    def points(self) -> np.ndarray:
        return np.array([[p.x, p.y] for p in self.shape.parts()], dtype=np.float64)

    @property
    def eye_centres(self) -> np.ndarray:
        """Centres of the eye on the image's left, then on its right (CelebA's order)."""
        p = self.points
        return np.array([(p[2] + p[3]) / 2, (p[0] + p[1]) / 2])


def detect_face(rgb: np.ndarray, box_hint: tuple[int, int, int, int] | None = None) -> DetectedFace:
    """The largest face of ``rgb`` (H×W×3 uint8) with its 5 landmarks.

    When the detector finds none and ``box_hint`` (left, top, right, bottom) is given, the
    landmarks are predicted inside that box (e.g. one derived from a dataset's own landmarks).
    Raises :class:`NoFaceError` when there is no face and no hint.
    """
    dlib = _dlib()
    tools = _tools()
    image = np.ascontiguousarray(rgb, dtype=np.uint8)
    boxes = _detect(tools.detector, image)
    if boxes:
        box = max(boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))
    elif box_hint is not None:
        box = tuple(int(v) for v in box_hint)
    else:
        raise NoFaceError("no face found (dlib HOG detector)")
    shape = tools.predictor(image, dlib.rectangle(*box))
    return DetectedFace(shape=shape, box=box, faces_found=len(boxes))


def _detect(detector: Any, image: np.ndarray) -> list[tuple[int, int, int, int]]:
    height, width = image.shape[:2]
    side = max(height, width)
    scale = 1.0
    small = image
    if side > DETECT_MAX_SIDE:
        from PIL import Image

        scale = DETECT_MAX_SIDE / side
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        small = np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BILINEAR))
    rects = detector(small, 0)
    if not len(rects) and side < UPSAMPLE_BELOW_SIDE:
        rects = detector(small, 1)
    return [
        (
            round(r.left() / scale),
            round(r.top() / scale),
            round(r.right() / scale),
            round(r.bottom() / scale),
        )
        for r in rects
    ]


def describe_chips(chips: list[np.ndarray]) -> list[np.ndarray]:
    """dlib's 128-d descriptors of aligned 150×150 chips (a worker function of the pool)."""
    vectors = descriptor_model().compute_face_descriptor(
        [np.ascontiguousarray(c, dtype=np.uint8) for c in chips]
    )
    return [np.asarray(v, dtype=np.float32) for v in vectors]


def face_chip(rgb: np.ndarray, face: DetectedFace, size: int, padding: float) -> np.ndarray:
    """dlib's own aligned chip (``get_face_chip``): the input of its ResNet descriptor."""
    image = np.ascontiguousarray(rgb, dtype=np.uint8)
    return np.asarray(_dlib().get_face_chip(image, face.shape, size=size, padding=padding))


def chip_matrix(face: DetectedFace, size: int, padding: float) -> np.ndarray:
    """The 2×3 image → chip similarity of :func:`face_chip` (pixel indices to pixel indices).

    dlib's ``get_mapping_to_chip``, which Python does not expose: the chip's corners (0, 0),
    (cols − 1, 0), (0, rows − 1) are the chip rectangle's corners rotated by its angle about its
    centre. :func:`celebalab.alignment.warp_image` with this matrix gives dlib's chip back.
    """
    from celebalab.alignment._similarity import fit_similarity

    details = _dlib().get_face_chip_details(face.shape, size, padding)
    rect = details.rect
    corners = np.array([[rect.left(), rect.top()], [rect.right(), rect.top()],
                        [rect.left(), rect.bottom()]])  # fmt: skip
    centre = np.array([(rect.left() + rect.right()) / 2, (rect.top() + rect.bottom()) / 2])
    c, s = np.cos(details.angle), np.sin(details.angle)
    rotated = (corners - centre) @ np.array([[c, s], [-s, c]]) + centre
    chip = np.array([[0, 0], [details.cols - 1, 0], [0, details.rows - 1]], np.float64)
    return fit_similarity(rotated, chip)


class NoFaceError(CelebalabError):
    """An image in which no face was found (the file is named by whoever reports it)."""
