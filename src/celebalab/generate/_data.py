"""Training images for a GAN: the packed uint8 cache of one split, read in seeded batches.

Decoding JPEGs every epoch (the seed's ``ImageFolder``) dominated its step time; here every
present image is decoded once into the packed cache and a batch is one fancy-index of the
memmap, read through the one row reader (:class:`celebalab.datasets.reader.RowReader`). The
batch order is the one seeded epoch order of every training loop
(:mod:`celebalab.datasets.order`), so a resumed run sees exactly the batches an uninterrupted
one would.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from celebalab import _progress
from celebalab.datasets.dataset import DatasetLike, open_dataset
from celebalab.datasets.order import batches_per_epoch, epoch_batch
from celebalab.datasets.reader import ImageSpec, RowReader
from celebalab.datasets.schema import ATTRIBUTE_NAMES
from celebalab.errors import CelebalabError


@dataclass
class GanData:
    """The packed images of a dataset (``reader``), 0/1 labels ``N×K`` and split rows."""

    reader: RowReader
    labels: np.ndarray
    rows: dict[str, np.ndarray]
    fingerprint: str
    partition_source: str

    def read(self, rows: np.ndarray) -> np.ndarray:
        """uint8 images ``len(rows)×S×S×3`` of table ``rows``."""
        return self.reader.read(rows)

    def split_images(self, split: str, positions: np.ndarray | None = None) -> np.ndarray:
        """uint8 images of ``split``: all of them, or those at ``positions`` within the split."""
        rows = self.rows[split] if positions is None else self.rows[split][positions]
        return self.read(rows)

    def counts(self) -> dict[str, int]:
        """Images per split."""
        return {split: len(rows) for split, rows in self.rows.items()}


@_progress.legacy_progress
def load_gan_data(
    root: DatasetLike, size: int, crop: str, attributes: tuple[str, ...], seed: int
) -> GanData:
    """Pack (once) and open ``root`` at ``size`` px; labels of ``attributes`` (may be empty).

    Only images whose file exists and decodes are used (a partial copy is one line).
    """
    from celebalab.models.data import data_fingerprint, make_splits

    dataset = open_dataset(root)
    table = dataset.table
    reader = RowReader.open(dataset, ImageSpec(size, crop), build=True)
    splits = make_splits(table, list(attributes), seed, valid=reader.usable)
    labels = table[list(attributes)].to_numpy(np.uint8) if attributes else np.zeros((len(table), 0))
    return GanData(
        reader=reader,
        labels=labels.astype(np.uint8),
        rows=splits.rows,
        fingerprint=data_fingerprint(table, list(ATTRIBUTE_NAMES)),
        partition_source=splits.partition_source,
    )


def steps_per_epoch(n: int, batch_size: int, world_size: int = 1) -> int:
    """Full batches per epoch and rank (the one epoch order of :mod:`celebalab.datasets.order`);
    a GAN needs at least one."""
    if n // world_size < batch_size:
        raise CelebalabError(
            f"only {n} training image(s) for --batch-size {batch_size} on {world_size} "
            "process(es); use a smaller --batch-size"
        )
    return batches_per_epoch(n, batch_size, world_size)


def batch_rows(
    train_rows: np.ndarray, seed: int, epoch: int, step: int, batch_size: int,
    rank: int = 0, world_size: int = 1,
) -> np.ndarray:  # fmt: skip
    """Table rows of batch ``step`` of ``epoch`` for ``rank`` (sorted: memmap reads go forward)."""
    positions = epoch_batch(len(train_rows), batch_size, seed=seed, epoch=epoch, step=step,
                            num_replicas=world_size, rank=rank)  # fmt: skip
    return np.sort(train_rows[positions])


def nchw(images: np.ndarray) -> torch.Tensor:
    """uint8 ``N×S×S×3`` array → uint8 tensor ``N×3×S×S`` (a permuted view, no copy)."""
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2)


def resize_bicubic(tiles: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 ``N×3×S×S`` → uint8 ``N×3×size×size``, bicubic, rounded and clipped (as is at size).

    Antialiased when shrinking. The one resize of the GAN code: grid and sample upscaling, and
    the classifier input of ``gan evaluate`` (generated and real images take the same path).
    """
    if tiles.shape[-1] == size:
        return tiles
    big = torch.nn.functional.interpolate(
        tiles.float(), size=(size, size), mode="bicubic", antialias=True, align_corners=False
    )
    return big.round().clamp_(0, 255).to(torch.uint8)


def to_model_input(images: np.ndarray, device: torch.device | str) -> torch.Tensor:
    """uint8 ``N×S×S×3`` → float ``N×3×S×S`` in [-1, 1], channels-last, on ``device``."""
    batch = nchw(images).to(device, non_blocking=True).float().div_(127.5).sub_(1.0)
    return batch.contiguous(memory_format=torch.channels_last)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """Generator output ``N×3×S×S`` in [-1, 1] → uint8 ``N×S×S×3`` (rounded, clipped)."""
    scaled = (images.detach().float().cpu() + 1.0) * 127.5
    return scaled.round().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def describe(data: GanData) -> dict[str, Any]:
    """The ``data`` block of ``run.json`` (without the root)."""
    return {
        "fingerprint": data.fingerprint,
        "counts": data.counts(),
        "partition_source": data.partition_source,
    }
