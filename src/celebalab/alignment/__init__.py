"""Face alignment: how an image becomes a model's input, recorded in every run and embedding set.

One home for the three ways (see :class:`FacePrep`): celebalab's crop of CelebA's aligned images,
a least-squares similarity onto a five-point template (InsightFace's ArcFace template for
``--preset arcface``), and dlib's own 5-point chip. Faces without landmarks are found by dlib's
HOG detector and 5-point predictor, files that come inside the ``dlib-bin`` and
``face-recognition-models`` packages (nothing is downloaded).
"""

from celebalab.alignment._dlib import (
    LICENCE_NOTE,
    DetectedFace,
    NoFaceError,
    descriptor_model,
    detect_face,
)
from celebalab.alignment._prep import DETECT_MODES, METHODS, FacePrep, Prepared, prepare_files
from celebalab.alignment._similarity import apply_similarity, fit_similarity, warp_image
from celebalab.alignment._templates import ARCFACE_112, TEMPLATES, scaled_template
from celebalab.alignment._workers import default_processes

__all__ = [
    "ARCFACE_112",
    "DETECT_MODES",
    "LICENCE_NOTE",
    "METHODS",
    "TEMPLATES",
    "DetectedFace",
    "FacePrep",
    "NoFaceError",
    "Prepared",
    "apply_similarity",
    "default_processes",
    "descriptor_model",
    "detect_face",
    "fit_similarity",
    "prepare_files",
    "scaled_template",
    "warp_image",
]
