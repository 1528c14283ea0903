"""Training data: splits, labels and whole-batch uint8 loaders, from the packed cache or files.

Images come from the one row reader (:class:`celebalab.datasets.reader.RowReader`). Its fast
path reads the packed memmap (``data pack``): each batch is one fancy-index of the memmap with
the batch's rows sorted, so a batch costs one mostly sequential read from the page cache and one
copy, and resident memory does not grow with the dataset. The slow path decodes image files with
the same function the pack uses, so both paths give identical pixels. Either way a batch is
``(uint8 N×S×S×3, uint8 N×K)``;
conversion to float, normalisation and augmentation happen on the training device
(:mod:`celebalab.models._module`).

Batch order comes from :class:`EpochBatchSampler`: the one seeded epoch order of
:mod:`celebalab.datasets.order`, sharded across DDP ranks, which can start an epoch at a given
batch. That is what makes ``--resume`` from a mid-epoch checkpoint continue with exactly the
batches that were not yet trained.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset, Sampler

from celebalab.datasets.order import batches_per_epoch, epoch_batches
from celebalab.datasets.schema import PARTITION_NAMES

if TYPE_CHECKING:
    from celebalab.datasets.reader import RowReader

#: Fractions of the seeded split used when the dataset has no partition file.
SEEDED_SPLIT_FRACTIONS: tuple[float, float, float] = (0.8, 0.1, 0.1)


@dataclass
class Splits:
    """Table rows of each split, the label matrix and where the partition came from."""

    rows: dict[str, np.ndarray]
    labels: np.ndarray
    partition_source: str
    notes: list[str] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        """Number of usable images per split."""
        return {name: len(r) for name, r in self.rows.items()}


def make_splits(
    table: pd.DataFrame,
    attribute_names: Sequence[str],
    seed: int,
    valid: np.ndarray | None = None,
) -> Splits:
    """Official partition when the table has one, else a seeded 80/10/10 split (with a note).

    ``valid`` (per table row) drops images whose file is missing or could not be decoded.
    """
    labels = table[list(attribute_names)].to_numpy(dtype=np.uint8)
    partition = table["partition"].to_numpy(dtype=np.int64)
    notes: list[str] = []
    if (partition < 0).all():
        partition = seeded_partition(len(table), seed)
        source = f"seeded_split(seed={seed}, fractions={list(SEEDED_SPLIT_FRACTIONS)})"
        notes.append(
            "no partition file: using a seeded 80/10/10 split of the images "
            f"(seed {seed}); results are not comparable with the official split"
        )
    else:
        source = str(table.attrs.get("partition_source", "partition file"))
        unknown = int((partition < 0).sum())
        if unknown:
            notes.append(f"{unknown} image(s) without a partition entry are left out")
    keep = np.ones(len(table), dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
    if not keep.all():
        notes.append(f"{int((~keep).sum()):,} image(s) without a readable file are left out")
    rows = {
        PARTITION_NAMES[code]: np.flatnonzero((partition == code) & keep)
        for code in sorted(PARTITION_NAMES)
    }
    return Splits(rows=rows, labels=labels, partition_source=source, notes=notes)


def seeded_partition(n: int, seed: int) -> np.ndarray:
    """Partition codes 0/1/2 for ``n`` images, drawn by a seeded permutation."""
    order = np.random.default_rng(seed).permutation(n)
    bounds = np.round(np.cumsum(SEEDED_SPLIT_FRACTIONS) * n).astype(int)
    partition = np.empty(n, dtype=np.int8)
    for code, (lo, hi) in enumerate(zip([0, *bounds[:-1]], bounds, strict=True)):
        partition[order[lo:hi]] = code
    return partition


def data_fingerprint(table: pd.DataFrame, attribute_names: Sequence[str]) -> str:
    """SHA-256 of image ids, partitions and the predicted labels: what a model was trained on."""
    cols = ["image_id", "partition", *attribute_names]
    hashed = pd.util.hash_pandas_object(table[cols], index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()


class BatchImages(Dataset):
    """A split as a dataset fetched a whole batch at a time (``__getitems__``)."""

    def __init__(self, source: RowReader, rows: np.ndarray, labels: np.ndarray):
        self.source = source
        self.rows = np.asarray(rows, dtype=np.int64)
        self.labels = labels

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        images, labels = self.__getitems__([index])
        return images[0], labels[0]

    def __getitems__(self, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """``(uint8 N×S×S×3, uint8 N×K)`` for dataset positions ``indices``, rows sorted."""
        rows = np.sort(self.rows[np.asarray(indices, dtype=np.int64)])
        return torch.from_numpy(self.source.read(rows)), torch.from_numpy(self.labels[rows])


def keep_batch(batch: Any) -> Any:
    """Collate of a batch that ``__getitems__`` already assembled."""
    return batch


class EpochBatchSampler(Sampler[list[int]]):
    """Batches of the seeded epoch order (:mod:`celebalab.datasets.order`), or in order.

    Shuffled (training): the one epoch order of every training loop, sharded over
    ``num_replicas``. In order (validation, test): every position, each rank taking every
    ``num_replicas``-th, padded by wrapping so every rank has as many batches. ``position``,
    when given, is asked at the start of every iteration for ``(epoch, batches already trained
    in it)``; a restored mid-epoch position makes the iteration skip those batches. Asking at
    iteration time (not at construction) matters: Lightning builds loaders before it restores
    its loop counters from a checkpoint.
    """

    def __init__(
        self,
        n: int,
        batch_size: int,
        shuffle: bool,
        seed: int = 0,
        num_replicas: int = 1,
        rank: int = 0,
        position: Callable[[], tuple[int, int]] | None = None,
    ) -> None:
        self.n, self.batch_size, self.shuffle, self.seed = n, batch_size, shuffle, seed
        self.num_replicas, self.rank = num_replicas, rank
        self.position = position
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the permutation of ``epoch`` (Lightning calls this before every epoch)."""
        self.epoch = epoch

    def __len__(self) -> int:
        if self.shuffle:
            return batches_per_epoch(self.n, self.batch_size, self.num_replicas)
        return -(-self._per_rank() // self.batch_size)

    def _per_rank(self) -> int:
        return -(-self.n // self.num_replicas)

    def batches(self) -> list[np.ndarray]:
        """This rank's batches of dataset positions for the current epoch."""
        if self.shuffle:
            return epoch_batches(self.n, self.batch_size, seed=self.seed, epoch=self.epoch,
                                 num_replicas=self.num_replicas, rank=self.rank)  # fmt: skip
        total = self._per_rank() * self.num_replicas
        order = np.resize(np.arange(self.n), total)[self.rank :: self.num_replicas]
        return [order[s : s + self.batch_size] for s in range(0, len(order), self.batch_size)]

    def __iter__(self) -> Iterator[list[int]]:
        first = 0
        if self.position is not None:
            self.epoch, done = self.position()
            first = done if 0 < done < len(self) else 0
        for batch in self.batches()[first:]:
            yield batch.tolist()


def positive_weights(labels: np.ndarray, cap: float = 100.0) -> np.ndarray:
    """BCE ``pos_weight`` per attribute: negatives / positives in the training labels, capped.

    Balances the two classes' total loss; an attribute with no positives gets 1.
    """
    pos = labels.sum(axis=0).astype(np.float64)
    neg = len(labels) - pos
    ratio = np.divide(neg, pos, out=np.ones_like(pos), where=pos > 0)
    return np.clip(ratio, 1.0 / cap, cap).astype(np.float32)
