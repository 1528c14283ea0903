"""Finishing a run: best weights back in, the task's finishing step, then ``run.json`` written last.

``run.json`` (see :mod:`celebalab.models.run`) is what makes a run directory a run: it is
written after ``model.pt`` and the metrics log, atomically, so an interrupted finish leaves an
unfinished (resumable) run, never a half-described one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from celebalab.models import run as runfmt
from celebalab.models._prepare import TrainingData
from celebalab.models._tasks import Task
from celebalab.models.architectures import IMAGENET_MEAN, IMAGENET_STD
from celebalab.models.config import TrainConfig
from celebalab.models.records import ClassifierRun
from celebalab.runtime import TrainingDevices

if TYPE_CHECKING:
    from celebalab.datasets.dataset import Dataset


def finish_run(
    out: Path,
    config: TrainConfig,
    task: Task,
    data: TrainingData,
    module: Any,
    trainer: Any,
    best: Any,
    devices: TrainingDevices,
    seconds: float,
    images: int,
) -> ClassifierRun:
    """Best weights → the task's finishing step on val → ``model.pt``, ``metrics.csv``, run.json.

    Returns the ``run.json`` record as written.
    """
    from celebalab.models.data import data_fingerprint
    from celebalab.models.inference import iter_split_batches

    if best.best_model_path:
        state = torch.load(best.best_model_path, map_location="cpu", weights_only=False)
        module.load_state_dict(state["state_dict"])
    names = task.output_names()
    model_config = model_description(config, names)
    trained = runfmt.LoadedRun(
        run_dir=out, config=model_config, model=module.model.to(devices.torch_device),
        attribute_names=names, image_size=config.size,
    )  # fmt: skip
    val = iter_split_batches(
        trained, data.dataset, rows=data.splits.rows["val"], batch_size=config.batch_size
    )
    finished = task.finish(trained, data.splits, val, data.targets)
    finished["metrics"]["val"]["loss"] = _metric(trainer, "val_loss")
    table, splits = data.table, data.splits
    document = {
        **model_config,
        **_alignment(config, data.dataset, splits.rows["train"]),
        **finished,
        "data": {
            "root": config.root,
            "dataset": data.dataset.name,
            "layout": data.dataset.kind,
            "fingerprint": data_fingerprint(table, names),
            "counts": splits.counts,
            "partition_source": splits.partition_source,
            "source": data.source,
            "notes": splits.notes,
            "skipped_images": [{"image_id": i, "reason": r} for i, r in data.skipped],
            "missing_images": _missing(data.dataset),
        },
        "training": {
            "epochs": config.epochs,
            "epochs_run": trainer.current_epoch,
            "global_step": trainer.global_step,
            "batch_size": config.batch_size,
            "lr": config.lr,
            "optimizer": "AdamW + one-cycle",
            "precision": devices.precision,
            "devices": devices.num_devices,
            "accelerator": devices.accelerator,
            "loss": config.loss,
            "focal_gamma": config.focal_gamma if config.loss == "focal" else None,
            "pos_weight": _rounded(module.hparams.get("pos_weight")),
            "augment": config.augment,
            "seed": config.seed,
            "weights": config.weights,
            "best_checkpoint": Path(best.best_model_path).name or None,
            "seconds": round(seconds, 2),
            "images_per_second": round(images / seconds, 1) if seconds > 0 else None,
            "torch_version": torch.__version__,
        },
        "train_config": config.to_dict(),
    }
    _copy_metrics_csv(out)
    path = runfmt.save_run(out, module.model, document)
    return ClassifierRun.from_json(json.loads(path.read_text(encoding="utf-8")), path)


def model_description(config: TrainConfig, names: list[str]) -> dict[str, Any]:
    """The part of ``run.json`` that says how to rebuild the model and make its input."""
    return {
        "arch": config.arch,
        "task": config.task,
        "attribute_names": names,
        "image_size": config.size,
        "crop": config.crop,
        "normalisation": {"mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD), "scale": 255},
    }


def _alignment(config: TrainConfig, dataset: Dataset, rows: Any) -> dict[str, Any]:
    """``alignment`` with CelebA's aligned frame (the training images' mean landmarks), so that
    photos given to this run later are warped onto the frame it was trained on; nothing for
    data without a landmark file (CelebAMask-HQ, Kaggle copies lacking it)."""
    from celebalab.alignment import FacePrep
    from celebalab.datasets.schema import LANDMARK_COLUMNS

    table = dataset.table
    if dataset.name != "celeba" or not set(LANDMARK_COLUMNS) <= set(table.columns):
        return {}
    marks = table[list(LANDMARK_COLUMNS)].to_numpy(np.float64)[rows].reshape(-1, 5, 2)
    frame = tuple(map(tuple, marks.mean(axis=0).round(2)))
    prep = FacePrep(size=config.size, method="crop", crop=config.crop, frame=frame)
    return {"alignment": prep.to_config()}


def _rounded(values: Sequence[float] | None) -> list[float] | None:
    return None if values is None else [round(float(v), 4) for v in values]


def _metric(trainer: Any, key: str) -> float | None:
    value = trainer.callback_metrics.get(key)
    return float(value) if value is not None else None


def _copy_metrics_csv(out: Path) -> None:
    logged = out / "logs" / "metrics.csv"
    if logged.is_file():
        from celebalab.io import write_bytes_atomic

        write_bytes_atomic(out / runfmt.METRICS_CSV, logged.read_bytes())


def _missing(dataset: Dataset) -> dict[str, Any]:
    """How many images of the table have no file, and the file listing them (not the list)."""
    count = dataset.missing_count
    return {"count": count, "list": str(dataset.missing_file) if count else None}
