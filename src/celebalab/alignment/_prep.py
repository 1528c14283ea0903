"""How one image becomes a model's S×S input: crop, template alignment, or dlib's own chip.

Every run says how its inputs were made (``run.json``'s ``alignment``), and every reader of
images for that run (dataset rows, query files, uploads) goes through :class:`FacePrep`:

- ``crop``: celebalab's own classifiers, trained on CelebA's aligned images: the central square
  (or the whole image) resized, exactly as the packed cache does. A photo that is not a
  178×218 aligned image is first detected and warped onto CelebA's aligned frame (the mean
  landmark positions of the training data, recorded in the run), so ``predict`` on a holiday
  photo sees a face where training saw one.
- ``template``: recognisers trained on a five-point template (InsightFace's ArcFace template for
  ``--preset arcface``): the least-squares similarity from the image's five landmarks (the
  dataset's own landmark file when it has one, else dlib's detector and predictor, whose eye
  centres are matched to the template's) to the template, then a warp to S×S.
- ``dlib``: dlib's ResNet descriptor aligns through its own 5-point predictor and
  ``get_face_chip`` (150 px, padding 0.25), as dlib's authors do.

No face found is a :class:`NoFaceError` naming the file, never a silent centre crop; with several
faces the largest is used and the returned note says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from celebalab.alignment._dlib import chip_matrix, detect_face, face_chip
from celebalab.alignment._similarity import fit_similarity, warp_image
from celebalab.alignment._templates import eye_centres, scaled_template
from celebalab.errors import CelebalabError

METHODS: tuple[str, ...] = ("crop", "template", "dlib")
DETECT_MODES: tuple[str, ...] = ("auto", "always", "never")
#: Size of CelebA's aligned images (width, height): files of this size count as already aligned.
CELEBA_ALIGNED_SIZE = (178, 218)
DLIB_CHIP_SIZE = 150
DLIB_PADDING = 0.25


@dataclass(frozen=True)
class Prepared:
    """One prepared input: ``image`` S×S×3 uint8, a note for the user (or ``""``), and
    ``matrix``, the 2×3 similarity from the source image's pixels to the input's (pixel ``i``
    centred at ``i``): what a face-parsing mask of the source image goes through to follow."""

    image: np.ndarray
    note: str = ""
    matrix: np.ndarray | None = None


@dataclass(frozen=True)
class FacePrep:
    """How images become this run's S×S model input (see the module docstring).

    ``points``: the template's five points at ``size`` (method ``template``). ``frame`` and
    ``frame_size``: CelebA's aligned frame (mean landmarks, width×height) for ``crop`` runs given
    photos; ``None`` for runs that did not record it (photos are then refused, not cropped).
    """

    size: int
    method: str = "crop"
    crop: str = "center"
    points: tuple[tuple[float, float], ...] | None = None
    frame: tuple[tuple[float, float], ...] | None = None
    frame_size: tuple[int, int] = CELEBA_ALIGNED_SIZE
    padding: float = DLIB_PADDING
    template: str | None = field(default=None, compare=False)

    # ------------------------------------------------------------------ building and recording

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> FacePrep:
        """The preparation a ``run.json`` describes (runs without ``alignment`` are ``crop``)."""
        size = int(config["image_size"])
        spec = config.get("alignment") or {}
        method = spec.get("method", "crop")
        if method not in METHODS:
            raise CelebalabError(f"run alignment {method!r} is not one of {', '.join(METHODS)}")
        frame = spec.get("frame")
        return cls(
            size=size,
            method=method,
            crop=str(config.get("crop", spec.get("crop", "center"))),
            points=_points(spec.get("points")),
            frame=_points(frame),
            frame_size=tuple(spec.get("frame_size", CELEBA_ALIGNED_SIZE)),  # type: ignore[arg-type]
            padding=float(spec.get("padding", DLIB_PADDING)),
            template=spec.get("template"),
        )

    @classmethod
    def for_template(cls, name: str, size: int) -> FacePrep:
        """A named template (``arcface``) scaled to ``size``."""
        points = scaled_template(name, size)
        return cls(size=size, method="template", points=_points(points), template=name)

    def to_config(self) -> dict[str, Any]:
        """The ``alignment`` record of ``run.json`` and embedding-set manifests."""
        spec: dict[str, Any] = {"method": self.method}
        if self.method == "crop":
            spec["crop"] = self.crop
            if self.frame is not None:
                spec.update(frame=[list(p) for p in self.frame], frame_size=list(self.frame_size))
        elif self.method == "template":
            spec.update(template=self.template, points=[list(p) for p in self.points or ()])
        else:
            spec.update(padding=self.padding)
        return spec

    def describe(self) -> str:
        """One phrase for messages and reports."""
        if self.method == "crop":
            return f"{self.crop} crop at {self.size} px"
        if self.method == "template":
            return f"{self.template or 'five-point'} template at {self.size} px"
        return f"dlib 5-point chip at {self.size} px (padding {self.padding})"

    # ------------------------------------------------------------------ preparing images

    def load(
        self, path: str | Path, landmarks: np.ndarray | None = None, detect: str = "auto"
    ) -> Prepared:
        """The model input made from the image file ``path``.

        ``landmarks`` (5×2, CelebA's order) are a dataset's own points for this image.
        ``detect`` applies to ``crop`` runs: ``auto`` treats a 178×218 file as an aligned CelebA
        image and detects the face in any other, ``always``/``never`` force either. Raises
        Pillow's errors for unreadable files and :class:`NoFaceError` when no face is found.
        """
        if detect not in DETECT_MODES:
            raise CelebalabError(f"detect must be one of {', '.join(DETECT_MODES)}, not {detect!r}")
        if self.method == "crop" and not self._needs_detection(path, detect):
            from celebalab.datasets.decode import load_resized

            with Image.open(path) as im:
                width, height = im.size
            matrix = self._crop_matrix(width, height)
            return Prepared(load_resized(path, self.size, self.crop), matrix=matrix)
        with Image.open(path) as im:
            rgb = np.asarray(im.convert("RGB"), dtype=np.uint8)
        return self.prepare(rgb, landmarks)

    def load_many(
        self,
        paths: Sequence[str | Path],
        landmarks: np.ndarray | None = None,
        processes: int | None = None,
    ) -> list[Outcome]:
        """:func:`prepare_files` of this preparation (what a reader given it calls)."""
        return prepare_files(self, paths, landmarks, processes)

    def _needs_detection(self, path: str | Path, detect: str) -> bool:
        if detect != "auto":
            return detect == "always"
        with Image.open(path) as im:
            return tuple(im.size) != CELEBA_ALIGNED_SIZE

    def _crop_matrix(self, width: int, height: int) -> np.ndarray:
        """The crop box of a ``width``×``height`` image resized to S×S, as a 2×3 matrix."""
        from celebalab.datasets.decode import crop_box

        left, top, right, bottom = crop_box(width, height, self.crop)
        sx, sy = self.size / (right - left), self.size / (bottom - top)
        return np.array([[sx, 0.0, (0.5 - left) * sx - 0.5], [0.0, sy, (0.5 - top) * sy - 0.5]])

    def prepare(self, rgb: np.ndarray, landmarks: np.ndarray | None = None) -> Prepared:
        """The model input made from an H×W×3 uint8 array (see :meth:`load`)."""
        if self.method == "dlib":
            hint = None if landmarks is None else _box_around(landmarks, rgb.shape)
            face = detect_face(rgb, hint)
            chip = face_chip(rgb, face, self.size, self.padding)
            return Prepared(chip, _note(face), chip_matrix(face, self.size, self.padding))
        if self.method == "template" and landmarks is not None:
            marks = np.asarray(landmarks, np.float64).reshape(5, 2)
            matrix = fit_similarity(marks, np.asarray(self.points))
            return Prepared(warp_image(rgb, matrix, self.size, self.size), matrix=matrix)
        face = detect_face(rgb)
        if self.method == "template":
            matrix = fit_similarity(face.eye_centres, eye_centres(np.asarray(self.points)))
            return Prepared(warp_image(rgb, matrix, self.size, self.size), _note(face), matrix)
        return self._onto_celeba_frame(rgb, face.eye_centres, _note(face))

    def _onto_celeba_frame(self, rgb: np.ndarray, eyes: np.ndarray, note: str) -> Prepared:
        if self.frame is None:
            raise CelebalabError(
                "this run records no aligned-face frame (trained before celebalab recorded one), "
                "so photos cannot be aligned for it: pass aligned CelebA images, or retrain"
            )
        from celebalab.datasets.decode import RESAMPLE, crop_box

        width, height = self.frame_size
        matrix = fit_similarity(eyes, eye_centres(np.asarray(self.frame)))
        aligned = warp_image(rgb, matrix, width, height)
        box = crop_box(width, height, self.crop)
        out = Image.fromarray(aligned).resize((self.size, self.size), RESAMPLE, box=box)
        crop = self._crop_matrix(width, height)
        combined = np.hstack(
            [crop[:, :2] @ matrix[:, :2], crop[:, :2] @ matrix[:, 2:] + crop[:, 2:]]
        )
        return Prepared(np.asarray(out, dtype=np.uint8), note, combined)


Outcome = tuple["np.ndarray | None", str, str]


def prepare_files(
    prep: FacePrep,
    paths: Sequence[str | Path],
    landmarks: np.ndarray | None = None,
    processes: int | None = None,
) -> list[Outcome]:
    """:meth:`FacePrep.load` of many files over worker processes (dlib holds the GIL).

    Returns per file ``(image or None, reason it failed, note)``; ``landmarks`` is ``n×5×2``
    or None. ``processes`` defaults to the usable CPUs (1: in this process).
    """
    from celebalab.alignment._workers import map_chunks

    marks = [None] * len(paths) if landmarks is None else list(landmarks)
    items = [(prep, str(p), m) for p, m in zip(paths, marks, strict=True)]
    return map_chunks(_prepare_chunk, items, processes)


def _prepare_chunk(items: Sequence[tuple[FacePrep, str, Any]]) -> list[Outcome]:
    from celebalab.datasets.decode import image_error_text

    out: list[Outcome] = []
    for prep, path, marks in items:
        try:
            prepared = prep.load(path, marks)
            out.append((prepared.image, "", prepared.note))
        except CelebalabError as err:
            out.append((None, str(err), ""))
        except Exception as err:  # any decoder failure skips the file
            out.append((None, f"unreadable image ({image_error_text(path, err)})", ""))
    return out


def _points(value: Any) -> tuple[tuple[float, float], ...] | None:
    if value is None:
        return None
    array = np.asarray(value, dtype=np.float64).reshape(-1, 2)
    return tuple((float(x), float(y)) for x, y in array)


def _box_around(landmarks: np.ndarray, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """A face box around five landmarks: the span of eyes and mouth, widened as a detector's."""
    pts = np.asarray(landmarks, np.float64).reshape(5, 2)
    centre = pts.mean(axis=0)
    side = 2.2 * max(np.ptp(pts[:, 0]), np.ptp(pts[:, 1]), 1.0)
    left, top = centre - side / 2
    height, width = shape[:2]
    return (
        max(0, round(left)),
        max(0, round(top)),
        min(width - 1, round(left + side)),
        min(height - 1, round(top + side)),
    )


def _note(face: Any) -> str:
    if face.faces_found > 1:
        return f"{face.faces_found} faces found; the largest was used"
    if face.faces_found == 0:
        return "no face detected; landmarks from the dataset's landmark file placed the face"
    return ""
