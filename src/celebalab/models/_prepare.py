"""Training data preparation: metadata, the image source, splits, targets and the data module.

The packed cache is built on first use (decoding once is paid back within the first epoch) and
knows which images are corrupt. Without it (``--no-pack``), every image is first decoded once at
a tiny size (JPEG DCT scaling makes that a fraction of a full decode) so that unreadable files are
skipped and listed exactly as the packed path does, instead of failing inside a loader worker.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from celebalab.errors import CelebalabError
from celebalab.models._datamodule import AttributeDataModule
from celebalab.models._tasks import Task
from celebalab.models.config import TrainConfig
from celebalab.models.data import Splits
from celebalab.runtime import TrainingDevices

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from celebalab.datasets.dataset import Dataset

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
    dataset: Dataset
    skipped: list[tuple[str, str]] = field(default_factory=list)


def prepare_data(config: TrainConfig, task: Task, devices: TrainingDevices) -> TrainingData:
    """Read ``config.root``, open (or build) its pack, split it and wrap it for Lightning.

    The task checks the labels first (e.g. a single-class attribute), before the pack is built.
    Only images whose file exists are used (a partial copy is one line, see
    :meth:`~celebalab.datasets.dataset.Dataset.presence_line`).
    """
    from celebalab.datasets.dataset import open_dataset
    from celebalab.datasets.packfiles import PackPaths
    from celebalab.datasets.reader import ImageSpec, RowReader
    from celebalab.models.data import BatchImages, make_splits

    dataset = open_dataset(config.root)
    table = dataset.table
    names = task.output_names()
    everything = make_splits(table, names, config.seed)
    task.check_data(everything, task.targets(table, everything))  # before any file is written
    dataset.say_presence()
    spec = ImageSpec(config.size, config.crop)
    if config.pack and not PackPaths.of(dataset.root, spec.size, spec.crop).manifest.is_file():
        log.info("packing the images at %d px once (reused by later runs)…", config.size)
    reader = RowReader.open(dataset, spec, build=config.pack)
    if reader.pack is not None:
        kind, default_workers = "packed", 0
        skipped = reader.corrupt
        valid = reader.usable
    else:
        _say("note: no packed cache; decoding image files every epoch (run `celebalab data pack`)")
        kind = "files"
        default_workers = min(4, max(1, (os.cpu_count() or 2) - 1))
        skipped = scan_unreadable(dataset, dataset.present_rows, config.crop)
        valid = dataset.present & ~np.isin(dataset.image_ids, [i for i, _ in skipped])
    splits = make_splits(table, names, config.seed, valid=valid)
    splits.notes.extend(_skipped_notes(skipped))
    empty = [s for s in ("train", "val") if splits.counts[s] == 0]
    if empty:
        raise CelebalabError(f"{dataset.root}: the {' and '.join(empty)} split has no images")
    targets = task.targets(table, splits)
    datasets = {s: BatchImages(reader, splits.rows[s], targets) for s in splits.rows}
    module = AttributeDataModule(
        datasets,
        batch_size=config.batch_size,
        seed=config.seed,
        workers=default_workers if config.workers is None else config.workers,
        pin_memory=devices.gpu,
    )
    return TrainingData(table, splits, targets, module, kind, dataset, skipped)


def _skipped_notes(skipped: list[tuple[str, str]], listed: int = 10) -> list[str]:
    """One note per unreadable image, at most ``listed`` of them, then one line for the rest."""
    notes = [f"skipped {image_id}: {reason}" for image_id, reason in skipped[:listed]]
    if len(skipped) > listed:
        notes.append(f"… and {len(skipped) - listed:,} more unreadable image(s) skipped "
                     "(listed in run.json)")  # fmt: skip
    return notes


def scan_unreadable(
    dataset: Dataset, rows: np.ndarray, crop: str, workers: int | None = None
) -> list[tuple[str, str]]:
    """``(image_id, reason)`` of every image of table ``rows`` that cannot be decoded.

    ``workers`` decoding threads (default: CPU count, at most 8).
    """
    from celebalab.datasets.reader import decode_batches

    paths = dataset.image_paths(rows)
    ids = dataset.image_ids[rows]
    failed: list[tuple[str, str]] = []
    for _, _, bad in decode_batches(paths, _SCAN_SIZE, crop, batch_size=256, workers=workers):
        failed.extend((str(ids[i]), reason) for i, reason in bad)
    return failed


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
