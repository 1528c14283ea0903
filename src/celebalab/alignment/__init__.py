"""Face alignment: how an image becomes a model's input, recorded in every run and embedding set.

One home for the three ways (see :class:`FacePrep`): celebalab's crop of CelebA's aligned images,
a least-squares similarity onto a five-point template (InsightFace's ArcFace template for
``--preset arcface``), and dlib's own 5-point chip. Faces without landmarks are found by dlib's
HOG detector and 5-point predictor, files that come inside the ``dlib-bin`` and
``face-recognition-models`` packages (nothing is downloaded).
"""

from celebalab.alignment._dlib import (
    DESCRIPTOR_FILE,
    LICENCE_NOTE,
    PREDICTOR_FILE,
    DetectedFace,
    NoFaceError,
    describe_chips,
    descriptor_model,
    detect_face,
    dlib_file,
)
from celebalab.alignment._prep import DETECT_MODES, METHODS, FacePrep, Prepared, prepare_files
from celebalab.alignment._similarity import apply_similarity, fit_similarity, warp_image
from celebalab.alignment._templates import ARCFACE_112, TEMPLATES, scaled_template
from celebalab.alignment._workers import default_processes, map_chunks

__all__ = [
    "ARCFACE_112",
    "DESCRIPTOR_FILE",
    "DETECT_MODES",
    "LICENCE_NOTE",
    "METHODS",
    "PREDICTOR_FILE",
    "TEMPLATES",
    "DetectedFace",
    "FacePrep",
    "NoFaceError",
    "Prepared",
    "apply_similarity",
    "default_processes",
    "describe_chips",
    "descriptor_model",
    "detect_face",
    "dlib_file",
    "fit_similarity",
    "map_chunks",
    "prepare_files",
    "scaled_template",
    "warp_image",
]
