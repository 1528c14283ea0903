"""``celebalab predict``: attribute probabilities for aligned face images of any size.

Each image is decoded with :func:`celebalab.datasets.decode.load_resized`, the function that
built the packed cache the model was trained on (same crop rule, JPEG draft scaling and
filter), so a file gets the pixels it would have had in training. Decoding runs in a thread pool
(Pillow releases the GIL) one batch ahead of the model
(:func:`celebalab.models.inference.decode_batches`). Unreadable files are listed with their
reason and skipped; when none is readable, :class:`PredictError` is raised.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from celebalab.errors import CelebalabError
from celebalab.metrics.attributes import predict_labels
from celebalab.models.config import PredictOptions
from celebalab.models.inference import predict_logits, prepared_batches
from celebalab.models.run import LoadedRun, load_run, require_attribute_outputs
from celebalab.runtime import resolve_device

#: File suffixes collected from a folder (case-insensitive); explicit file arguments may be any.
IMAGE_SUFFIXES: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif"}
)


class PredictError(CelebalabError):
    """No image could be predicted (none found, or none readable)."""


def collect_images(paths: Sequence[str | Path]) -> list[Path]:
    """Image files named by ``paths``: files as given, folders searched recursively, sorted."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(
                sorted(
                    p
                    for p in path.rglob("*")
                    if p.suffix.lower() in IMAGE_SUFFIXES
                    and p.is_file()
                    and not any(part.startswith(".") for part in p.relative_to(path).parts)
                )
            )
        elif path.is_file():
            found.append(path)
        else:
            raise PredictError(f"{path}: no such file or folder")
    if not found:
        names = ", ".join(str(p) for p in paths)
        raise PredictError(f"{names}: no image files found ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return found


def predict_paths(
    run_dir: str | Path | LoadedRun,
    paths: Sequence[str | Path],
    batch_size: int = 64,
    device: str | None = None,
    workers: int | None = None,
    detect: str = "auto",
) -> pd.DataFrame:
    """Probabilities and thresholded labels for the images in ``paths`` (files or folders).

    ``run_dir`` is a run directory or an already loaded run (to predict many times).

    Returns one row per readable image: ``path``, ``prob_<attr>`` (float32) and ``pred_<attr>``
    (0/1, probability >= the run's threshold). ``df.attrs["failures"]`` lists
    ``{"path", "reason"}`` for every unreadable file; ``df.attrs["attribute_names"]`` and
    ``df.attrs["thresholds"]`` describe the run. ``workers`` decoding threads default to the CPU
    count (at most 8). Files are prepared by
    :func:`~celebalab.models.inference.prepared_batches`: a 178×218 CelebA-aligned image is
    cropped as in training, any other photo is aligned onto CelebA's frame through dlib's face
    detector (``detect``: ``auto``, ``always``, ``never``); ``df.attrs["notes"]`` lists
    ``{"path", "note"}`` (several faces found, …). Bad options are one
    :class:`~celebalab.options.ConfigError` (checked as
    :class:`~celebalab.models.config.PredictOptions`, ``detect`` as its ``align``).
    """
    PredictOptions(batch_size=batch_size, device=device, workers=workers, align=detect)
    run = run_dir if isinstance(run_dir, LoadedRun) else load_run(run_dir, resolve_device(device))
    require_attribute_outputs(run, "predict")
    files = collect_images(paths)
    kept: list[str] = []
    probs: list[np.ndarray] = []
    failures: list[dict[str, str]] = []
    notes: list[tuple[str, str]] = []
    for positions, images, failed in prepared_batches(
        run, files, batch_size, workers, detect=detect, notes=notes
    ):
        failures.extend({"path": str(files[i]), "reason": reason} for i, reason in failed)
        if len(positions):
            kept.extend(str(files[i]) for i in positions)
            probs.append(torch.sigmoid(predict_logits(run, images)).cpu().numpy())
    if not kept:
        reasons = "; ".join(f"{f['path']}: {f['reason']}" for f in failures[:3])
        raise PredictError(f"none of the {len(files)} image file(s) could be read ({reasons})")
    frame = _frame(run, kept, np.concatenate(probs), failures)
    frame.attrs["notes"] = [{"path": p, "note": n} for p, n in notes]
    return frame


def _frame(
    run: LoadedRun, paths: list[str], probs: np.ndarray, failures: list[dict[str, str]]
) -> pd.DataFrame:
    names = run.attribute_names
    labels = predict_labels(probs, run.thresholds)
    data: dict[str, Any] = {"path": paths}
    data.update({f"prob_{n}": probs[:, j].astype(np.float32) for j, n in enumerate(names)})
    data.update({f"pred_{n}": labels[:, j] for j, n in enumerate(names)})
    frame = pd.DataFrame(data)
    frame.attrs.update(
        failures=failures,
        attribute_names=list(names),
        thresholds={n: float(t) for n, t in zip(names, run.thresholds, strict=True)},
        run_dir=str(run.run_dir),
    )
    return frame


def predictions_json(frame: pd.DataFrame) -> dict[str, Any]:
    """JSON document of a :func:`predict_paths` result: per image probabilities and labels."""
    names = frame.attrs["attribute_names"]
    images = []
    for values in frame.to_dict(orient="records"):
        images.append(
            {
                "path": values["path"],
                "probabilities": {n: round(float(values[f"prob_{n}"]), 6) for n in names},
                "present": [n for n in names if values[f"pred_{n}"]],
            }
        )
    return {
        "run_dir": frame.attrs["run_dir"],
        "attribute_names": names,
        "thresholds": frame.attrs["thresholds"],
        "images": images,
        "failures": frame.attrs["failures"],
    }


def top_attributes(frame: pd.DataFrame, k: int = 5) -> list[list[tuple[str, float, bool]]]:
    """Per image, the ``k`` most probable attributes as (name, probability, predicted present)."""
    names = frame.attrs["attribute_names"]
    probs = frame[[f"prob_{n}" for n in names]].to_numpy()
    preds = frame[[f"pred_{n}" for n in names]].to_numpy().astype(bool)
    order = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    return [
        [(names[j], float(probs[i, j]), bool(preds[i, j])) for j in order[i]]
        for i in range(len(frame))
    ]
