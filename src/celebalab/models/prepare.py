"""Training data preparation: metadata, the image source, splits, targets and the data module.

The packed cache is built on first use (decoding once is paid back within the first epoch) and
knows which images are corrupt. Without it (``--no-pack``), every image is first decoded once at
a tiny size (JPEG DCT scaling makes that a fraction of a full decode) so that unreadable files are
skipped and listed exactly as the packed path does, instead of failing inside a loader worker.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from celebalab.errors import CelebalabError
from celebalab.models.config import TrainConfig
from celebalab.models.data import Splits
from celebalab.models.datamodule import AttributeDataModule
from celebalab.models.tasks import Task
from celebalab.runtime import TrainingDevices

#: Side of the decode that checks files are readable on the ``--no-pack`` path.
_SCAN_SIZE = 8


@dataclass
class TrainingData:
    """What the training flow needs from the dataset."""

    table: pd.DataFrame
    splits: Splits
    targets: np.ndarray
    module: AttributeDataModule
    source: str
    skipped: list[tuple[str, str]] = field(default_factory=list)


def prepare_data(
    config: TrainConfig, task: Task, devices: TrainingDevices, progress: bool
) -> TrainingData:
    """Read ``config.root``, open (or build) its pack, split it and wrap it for Lightning.

    The task checks the labels first (e.g. a single-class attribute), before the pack is built.
    """
    from celebalab.datasets.packed import PackedImages, pack_images
    from celebalab.datasets.table import load_table
    from celebalab.models.data import BatchImages, FileSource, PackedSource, make_splits

    root = Path(config.root)
    table = load_table(root)
    names = task.output_names()
    everything = make_splits(table, names, config.seed)
    task.check_data(everything, task.targets(table, everything))  # before any file is written
    size, crop = config.size, config.crop
    ids = table["image_id"].astype(str).tolist()
    packed = PackedImages.open(root, size, crop, image_ids=ids)
    if packed is None and config.pack:
        _say(f"packing the images at {size} px once (reused by later runs)…")
        pack_images(root, size, crop, progress=progress)
        packed = PackedImages.open(root, size, crop, image_ids=ids)
    skipped: list[tuple[str, str]] = []
    if packed is not None:
        source: Any = PackedSource(packed.images)
        valid, kind, default_workers = packed.valid, "packed", 0
        skipped = [(c["image_id"], c["reason"]) for c in packed.manifest.get("corrupt", [])]
    else:
        _say("note: no packed cache; decoding image files every epoch (run `celebalab data pack`)")
        image_dir = Path(table.attrs["image_dir"])
        skipped = scan_unreadable(image_dir, ids, crop)
        bad = {image_id for image_id, _ in skipped}
        valid = np.array([image_id not in bad for image_id in ids], dtype=bool)
        source = FileSource(image_dir, ids, size, crop)
        kind = "files"
        default_workers = min(4, max(1, (os.cpu_count() or 2) - 1))
    splits = make_splits(table, names, config.seed, valid=valid)
    splits.notes.extend(f"skipped {image_id}: {reason}" for image_id, reason in skipped)
    empty = [s for s in ("train", "val") if splits.counts[s] == 0]
    if empty:
        raise CelebalabError(f"{root}: the {' and '.join(empty)} split has no images")
    targets = task.targets(table, splits)
    datasets = {s: BatchImages(source, splits.rows[s], targets) for s in splits.rows}
    module = AttributeDataModule(
        datasets,
        batch_size=config.batch_size,
        seed=config.seed,
        workers=default_workers if config.workers is None else config.workers,
        pin_memory=devices.gpu,
    )
    return TrainingData(table, splits, targets, module, kind, skipped)


def scan_unreadable(
    image_dir: Path, image_ids: list[str], crop: str, workers: int | None = None
) -> list[tuple[str, str]]:
    """``(image_id, reason)`` of every image under ``image_dir`` that cannot be decoded.

    ``workers`` decoding threads (default: CPU count, at most 8).
    """
    from celebalab.models.inference import decode_batches

    paths = [image_dir / image_id for image_id in image_ids]
    failed: list[tuple[str, str]] = []
    for _, _, bad in decode_batches(paths, _SCAN_SIZE, crop, batch_size=256, workers=workers):
        failed.extend((image_ids[i], reason) for i, reason in bad)
    return failed


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
