"""Extraction through Lightning's ``Trainer.predict``: the multi-GPU (DDP) path of extraction.

Why Lightning here: with ``--devices > 1`` it starts one process per GPU, moves the model to
each and shards the work units over the ranks (its distributed sampler); every rank saves the
units it embedded with :class:`UnitWriter`, the same atomic unit files the single-process loop
writes, so resume and assembly do not care which path produced a unit.
"""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.callbacks import BasePredictionWriter
from torch.utils.data import Dataset

from celebalab.embeddings.features import run_vectors
from celebalab.embeddings.store import pack_unit, save_unit


class UnitDataset(Dataset):
    """Item ``i`` = the decoded images of work unit ``todo[i]`` (one Lightning batch)."""

    def __init__(self, job: Any, todo: list[int]) -> None:
        self.job = job
        self.todo = list(todo)

    def __len__(self) -> int:
        return len(self.todo)

    def __getitem__(self, i: int) -> dict[str, Any]:
        from celebalab.models.inference import iter_split_batches

        index = self.todo[i]
        unit = self.job.units()[index]
        batches = iter_split_batches(self.job.run, self.job.dataset, rows=unit,
                                     batch_size=len(unit), workers=self.job.workers)  # fmt: skip
        decoded = list(batches)
        size = self.job.run.image_size
        images = decoded[0].images if decoded else torch.zeros((0, 3, size, size), torch.uint8)
        rows = decoded[0].rows if decoded else np.zeros(0, np.int64)
        return {"index": index, "images": images, "rows": rows, "skipped": batches.skipped}


class UnitModule(pl.LightningModule):
    """Embeds one unit per predict step, in sub-batches of the job's batch size."""

    def __init__(self, job: Any) -> None:
        super().__init__()
        self.job = job
        self.model = job.run.model  # registered, so Lightning moves it to each rank's device

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Any]:
        """Vectors (and probabilities) of the unit's images."""
        vectors, probs = [], []
        step = self.job.batch_size
        for start in range(0, len(batch["images"]), step):
            vec, prob = run_vectors(self.job.run, batch["images"][start : start + step],
                                    self.job.normalise)  # fmt: skip
            vectors.append(vec)
            if prob is not None:
                probs.append(prob)
        return {**batch, "vectors": vectors, "probs": probs}


class UnitWriter(BasePredictionWriter):
    """Saves each embedded unit as soon as its step ends (on the rank that embedded it)."""

    def __init__(self, job: Any) -> None:
        super().__init__(write_interval="batch")
        self.job = job

    def write_on_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, prediction: Any,
        batch_indices: Any, batch: Any, batch_idx: int, dataloader_idx: int,
    ) -> None:  # fmt: skip
        """Write the unit file of ``prediction``."""
        unit = pack_unit([prediction["rows"]], prediction["vectors"], prediction["probs"],
                         prediction["skipped"])  # fmt: skip
        save_unit(self.job.unit_path(prediction["index"]), unit)
