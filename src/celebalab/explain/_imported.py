"""Explaining any run, imported ones included: which methods apply, and masks in the input frame.

**Methods.** Perturbation methods (occlusion, LIME, KernelSHAP), the baselines, the
falsification rate and the deletion/insertion curves only call the model forward on batches,
so they run through every run (onnxruntime and dlib models too). Gradient methods need
gradients to reach the input: for a run whose model runs outside torch (ONNX, dlib) each is
refused with one line, listed in ``results.json``'s ``skipped``, and the run goes on.
Grad-CAM(++) also needs a convolutional layer to hook; TorchScript and ``torch.export`` files
hide their layers (they accept no hooks), so there it is refused the same way. Both checks are
made once, before any image is read.

**Masks.** Face-parsing label maps are drawn on the dataset's images; the regional metrics
compare them with attributions in the run's input frame, so the masks follow the images:

- ``crop`` runs (celebalab's own, imported ``crop-*``): the label-map pack at the run's size
  and crop, the same crop as the images;
- ``template`` runs (ArcFace five points) on a dataset with a landmark file: each label map is
  warped, nearest neighbour, by the very least-squares similarity (the image's five landmarks
  onto the template) that aligned its image; the source is the label-map pack of the whole image
  at twice the input size, so the warp never magnifies a coarse map;
- ``dlib`` runs, and ``template`` runs on a dataset without landmarks (CelebAMask-HQ): the
  alignment that dlib's detector and predictor found for the image
  (:attr:`celebalab.alignment.Prepared.matrix`; deterministic, so the mask's warp is the
  image's own, and for dlib's chips it reproduces dlib's chip exactly). A row whose face is not
  found has no mask and is not selected.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from celebalab.alignment import FacePrep, fit_similarity
from celebalab.datasets.schema import LANDMARK_COLUMNS
from celebalab.errors import CelebalabError
from celebalab.explain.methods import CAM_METHODS, GRADIENT_METHODS, feature_layer
from celebalab.models.records import ImportedRun
from celebalab.models.run import LoadedRun

#: How an imported model's file format is named in refusals.
_FORMATS = {
    "onnx": "an onnx model",
    "dlib": "dlib's face descriptor",
    "torchscript": "a TorchScript model",
    "export": "a torch.export program",
}


def method_refusals(run: LoadedRun, methods: Sequence[str]) -> dict[str, str]:
    """Method → why ``run`` cannot use it (a phrase); the methods it can use are absent."""
    wanted = [m for m in methods if m in GRADIENT_METHODS]
    if not wanted:
        return {}
    model = f"run {run.run_dir} is {_format_phrase(run)}"
    if not run.differentiable:
        return dict.fromkeys(wanted, f"{model} (no gradients)")
    cams = [m for m in wanted if m in CAM_METHODS]
    if not cams or _has_feature_layer(run):
        return {}
    return dict.fromkeys(cams, f"{model} with no convolutional layer Grad-CAM can hook")


def _format_phrase(run: LoadedRun) -> str:
    record = run.record
    fmt = record.source.format if isinstance(record, ImportedRun) else None
    return _FORMATS.get(fmt, f"a {fmt} model" if fmt else "a celebalab model")


def _has_feature_layer(run: LoadedRun) -> bool:
    """Whether Grad-CAM finds a spatial feature map in ``run``'s network (one forward)."""
    sample = torch.zeros(1, 3, run.image_size, run.image_size, device=run.device)
    try:
        feature_layer(run.model, sample)
    except CelebalabError:
        return False
    return True


@dataclass
class LabelMaps:
    """Label maps in a run's input frame: ``labels[row]`` S×S uint8, ``valid[row]`` usable."""

    labels: np.ndarray
    valid: np.ndarray


@dataclass(frozen=True)
class InputFrame:
    """How a dataset image and its face-parsing masks become a run's S×S input (module doc)."""

    prep: FacePrep
    run_name: str
    image_dir: Path
    ids: tuple[str, ...]
    landmarks: np.ndarray | None  # N×5×2 in table-row order; rows of -1 have none

    @classmethod
    def of(cls, run: LoadedRun, table: pd.DataFrame) -> InputFrame:
        """The frame of ``run`` on the dataset whose metadata table is ``table``."""
        marks = None
        if set(LANDMARK_COLUMNS) <= set(table.columns):
            marks = table[list(LANDMARK_COLUMNS)].to_numpy(np.float64).reshape(-1, 5, 2)
        return cls(
            prep=run.face_prep,
            run_name=str(run.run_dir),
            image_dir=Path(table.attrs["image_dir"]),
            ids=tuple(table["image_id"].astype(str)),
            landmarks=marks,
        )

    def image(self, path: Path, row: int) -> np.ndarray:
        """The S×S×3 input made from ``path``, a picture of table row ``row``'s face."""
        return self.prep.load(path, self._marks(row), detect="never").image

    def mask(self, label_map: np.ndarray, row: int) -> np.ndarray:
        """``label_map`` (covering row ``row``'s whole image, any resolution) in the input frame.

        Raises :class:`CelebalabError` when the row's face cannot be found (dlib's detector)."""
        from celebalab.datasets.masks import resize_label_map

        if self.prep.method == "crop":
            return resize_label_map(label_map, self.prep.size, self.prep.crop)
        return warp_labels(label_map, self.matrix(row), self._image_shape(row), self.prep.size)

    def matrix(self, row: int) -> np.ndarray:
        """The image → input similarity that aligned row ``row``'s image: the fit of its five
        landmarks onto the template, or, without landmarks and for dlib's chips, the transform
        the detector-based alignment applied (deterministic: the same as the image's)."""
        marks = self._marks(row)
        if self.prep.method == "template" and marks is not None:
            return fit_similarity(marks, np.asarray(self.prep.points))
        prepared = self.prep.load(self.image_dir / self.ids[row], marks)
        assert prepared.matrix is not None  # every non-crop preparation reports its matrix
        return prepared.matrix

    def label_maps(self, root: Path, rows: np.ndarray) -> LabelMaps:
        """Label maps of ``rows`` in the input frame (other rows, and rows whose face is not
        found, stay invalid)."""
        from celebalab.datasets.mask_pack import open_or_pack_label_maps

        size = self.prep.size
        if self.prep.method == "crop":
            pack = open_or_pack_label_maps(root, size, self.prep.crop)
            return LabelMaps(pack.labels, pack.valid)
        pack = open_or_pack_label_maps(root, 2 * size, "none")
        labels = np.zeros((len(pack.valid), size, size), np.uint8)  # untouched rows cost nothing
        valid = np.zeros(len(pack.valid), bool)
        for row in np.unique(rows):
            if not pack.valid[row]:
                continue
            with contextlib.suppress(CelebalabError):  # no face found: the row has no mask
                labels[row] = self.mask(pack.labels[row], row)
                valid[row] = True
        return LabelMaps(labels, valid)

    def _marks(self, row: int) -> np.ndarray | None:
        if self.landmarks is None or (self.landmarks[row] < 0).any():
            return None
        return self.landmarks[row]

    def _image_shape(self, row: int) -> tuple[int, int]:
        from PIL import Image

        with Image.open(self.image_dir / self.ids[row]) as image:
            return image.height, image.width


def warp_labels(
    label_map: np.ndarray, matrix: np.ndarray, image_shape: tuple[int, int], size: int
) -> np.ndarray:
    """``size``×``size`` labels: input pixel ``q`` takes the label at ``M⁻¹·q`` (nearest).

    ``matrix`` maps image pixels to input pixels as :func:`celebalab.alignment.warp_image` does
    (pixel ``i`` centred at ``i``); ``label_map`` covers the whole ``image_shape`` (H, W) image
    at any resolution. Pixels from outside the image are background (0), as the warped image's
    are black.
    """
    inverse = np.linalg.inv(np.vstack([matrix, [0.0, 0.0, 1.0]]))[:2]
    ys, xs = np.mgrid[0:size, 0:size]
    x, y = inverse @ np.stack([xs.ravel(), ys.ravel(), np.ones(size * size)])
    rows, cols = label_map.shape[:2]
    u = np.rint((x + 0.5) * cols / image_shape[1] - 0.5).astype(np.int64)
    v = np.rint((y + 0.5) * rows / image_shape[0] - 0.5).astype(np.int64)
    inside = (u >= 0) & (u < cols) & (v >= 0) & (v < rows)
    out = np.zeros(size * size, np.uint8)
    out[inside] = label_map[v[inside], u[inside]]
    return out.reshape(size, size)
