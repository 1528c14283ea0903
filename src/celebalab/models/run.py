"""The run directory: a trained classifier that describes itself, loadable with nothing else.

Layout of ``RUN_DIR`` (format version 1)::

    run.json              written last: its presence means the run finished
    model.pt              state_dict of the final model (best val loss when early stopping kept one)
    metrics.csv           per-epoch / per-step metrics (copy of the Lightning CSVLogger file)
    checkpoints/last.ckpt Lightning checkpoint for ``--resume`` (+ ``epoch=…`` ones, step ones)
    logs/                 raw Lightning CSVLogger output

``run.json`` keys:

- ``format_version`` (int, this module's :data:`FORMAT_VERSION`), ``celebalab_version`` (str)
- ``arch`` (one of ``ARCHITECTURES``), ``task`` (``"attributes"`` or one attribute name)
- ``attribute_names``: the predicted attributes, in logit order
- ``image_size`` (int, square side in pixels), ``crop`` (how the 178×218 image became square,
  as in the packed cache: ``"center"``)
- ``normalisation``: ``{"mean": [3 floats], "std": [3 floats], "scale": 255}``: model input is
  ``(uint8 / scale - mean) / std`` per channel
- ``thresholds``: ``{attribute: float}``, decision thresholds on the sigmoid probability,
  tuned on the validation split (see :mod:`celebalab.models._thresholds`)
- ``threshold_metric``: what the thresholds maximise (``"balanced_accuracy"`` or ``"f1"``)
- ``data``: ``{"root", "fingerprint", "counts": {split: n}, "partition_source", "source"}``
- ``training``: ``{"epochs", "epochs_run", "batch_size", "precision", "devices", "loss",
  "pos_weight" (list or null), "focal_gamma", "lr", "seed", "seconds", "images_per_second", …}``
- ``metrics``: ``{"val": {...}}`` (loss, mean balanced accuracy, per-attribute figures)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from celebalab import __version__
from celebalab.alignment import FacePrep
from celebalab.errors import CelebalabError, DataFormatError
from celebalab.io import atomic_path, read_json_object, write_json_atomic
from celebalab.models.architectures import build_model
from celebalab.models.records import FORMAT_VERSION, ModelRun, model_record
from celebalab.rundir import RunKind

RUN_JSON = "run.json"
MODEL_FILE = "model.pt"
CHECKPOINT_DIR = "checkpoints"
METRICS_CSV = "metrics.csv"
OPTIONS_FILE = "train_options.json"
#: A trained run's folder: ``--overwrite`` replaces these names (``evaluate``'s ``eval_<split>``
#: included, stale once the model changes), never other files.
MODEL_RUN = RunKind(
    "classifier run", manifest=RUN_JSON,
    outputs=(MODEL_FILE, METRICS_CSV, CHECKPOINT_DIR, "logs", OPTIONS_FILE), derived=("eval_*",),
)  # fmt: skip

_REQUIRED_KEYS = ("arch", "attribute_names", "image_size", "normalisation", "thresholds")


class RunDirError(CelebalabError):
    """A run directory is missing, incomplete, corrupt or from an incompatible celebalab."""


@dataclass
class LoadedRun:
    """A trained classifier read back from a run directory.

    ``model`` is the network (eval mode; logits from normalised float input), ``device`` where
    its parameters live, ``config`` the parsed ``run.json`` as read and ``record`` the same as a
    typed :class:`~celebalab.models.records.ModelRun` (read this one: ``crop`` and ``task`` are
    shortcuts), ``thresholds`` float32 in ``attribute_names`` order. Batched inference on it
    lives in :mod:`celebalab.models.inference`.
    """

    run_dir: Path
    config: dict[str, Any]
    model: nn.Module
    attribute_names: list[str] = field(default_factory=list)
    thresholds: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    image_size: int = 0

    @cached_property
    def record(self) -> ModelRun:
        """``run.json`` as a typed record (:class:`ClassifierRun` or :class:`ImportedRun`)."""
        return model_record(self.config, self.run_dir / RUN_JSON)

    @property
    def device(self) -> torch.device:
        """Device holding the model's parameters (CPU for imported models run outside torch)."""
        tensor = next(self.model.parameters(), None)
        return tensor.device if tensor is not None else torch.device("cpu")

    @property
    def imported(self) -> bool:
        """Whether the run wraps a pretrained model (``celebalab model import``)."""
        return self.record.imported

    @property
    def differentiable(self) -> bool:
        """Whether gradients reach the input (false for onnxruntime and dlib models)."""
        return bool(getattr(self.model, "differentiable", True))

    @property
    def face_prep(self) -> FacePrep:
        """How an image becomes this run's input (crop, template alignment or dlib's chip)."""
        return FacePrep.from_config(self.config)

    @property
    def crop(self) -> str:
        """How the aligned image became square before resizing (``"center"`` or ``"none"``)."""
        return self.record.crop

    @property
    def task(self) -> str:
        """The training task (``"attributes"`` or one attribute name)."""
        return self.record.task


def save_run(run_dir: str | Path, model: nn.Module, config: dict[str, Any]) -> Path:
    """Write ``model.pt`` then ``run.json`` (last, atomically) into ``run_dir``; return run.json.

    ``config`` must hold at least ``arch``, ``attribute_names``, ``image_size``,
    ``normalisation`` and ``thresholds``; the version fields are filled in here.
    """
    missing = [k for k in _REQUIRED_KEYS if k not in config]
    if missing:
        raise ValueError(f"run config lacks {missing}")
    run_dir = Path(run_dir)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    with atomic_path(run_dir / MODEL_FILE) as tmp:
        torch.save(state, tmp)
    full = {"format_version": FORMAT_VERSION, "celebalab_version": __version__, **config}
    return write_json_atomic(run_dir / RUN_JSON, full)


def read_run_config(run_dir: str | Path) -> dict[str, Any]:
    """Parse and validate ``run_dir/run.json`` (format version check), without loading weights."""
    run_dir = Path(run_dir)
    path = run_dir / RUN_JSON
    if not run_dir.is_dir():
        raise RunDirError(f"{run_dir}: run directory not found")
    if not path.is_file():
        raise RunDirError(
            f"{path}: missing; {run_dir} is not a finished celebalab run "
            "(training still running or interrupted? use `celebalab train … --resume`)"
        )
    config = read_json_object(path, "run file")
    version = config.get("format_version")
    if version != FORMAT_VERSION:
        writer = config.get("celebalab_version", "an unknown version")
        raise RunDirError(
            f"{path}: run format {version!r} written by celebalab {writer}; this celebalab "
            f"{__version__} reads format {FORMAT_VERSION} only (retrain with this version)"
        )
    missing = [k for k in _REQUIRED_KEYS if k not in config]
    if missing:
        raise DataFormatError(path, f"run file lacks required keys {missing}")
    return config


def read_run_record(run_dir: str | Path) -> ModelRun:
    """``run_dir/run.json`` as its typed record, without loading weights."""
    return model_record(read_run_config(run_dir), Path(run_dir) / RUN_JSON)


def require_attribute_outputs(run: LoadedRun, command: str) -> LoadedRun:
    """``run`` if it predicts attributes; an identity run is a clear error naming what to use."""
    if run.task == "identity":
        raise RunDirError(
            f"{run.run_dir}: an identity (face-recognition) run predicts no attributes; "
            f"`celebalab {command}` needs an attribute classifier (for this run use "
            "`celebalab embed extract RUN ROOT --out EMB` and `celebalab embed evaluate EMB`)"
        )
    return run


def load_run(run_dir: str | Path, device: str | torch.device = "cpu") -> LoadedRun:
    """Load a run directory: model rebuilt from ``run.json``, weights from ``model.pt``, in eval."""
    run_dir = Path(run_dir)
    config = read_run_config(run_dir)
    record = model_record(config, run_dir / RUN_JSON)
    if record.imported:
        from celebalab.models.imported import build_imported_model

        return _loaded(run_dir, config, build_imported_model(run_dir, record).to(device))
    # identity runs predict no attribute: their outputs are the embedding_dim embedding values
    model = build_model(record.arch, record.outputs)
    weights = run_dir / MODEL_FILE
    if not weights.is_file():
        raise RunDirError(f"{weights}: model weights missing")
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    except Exception as err:
        lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()]
        reason = "; ".join(lines[:2]) if lines else type(err).__name__
        raise RunDirError(f"{weights}: corrupt or incompatible model weights ({reason})") from None
    return _loaded(run_dir, config, model.to(device).eval())


def _loaded(run_dir: Path, config: dict[str, Any], model: nn.Module) -> LoadedRun:
    run = LoadedRun(run_dir=run_dir, config=config, model=model)
    names = list(run.record.attribute_names)
    thresholds = [float(run.record.thresholds.get(n, 0.5)) for n in names]
    run.attribute_names, run.image_size = names, run.record.image_size
    run.thresholds = np.array(thresholds, np.float32)
    return run
