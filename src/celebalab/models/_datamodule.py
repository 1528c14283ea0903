"""The Lightning data module over :mod:`celebalab.models.data`'s batch datasets.

Kept apart from ``data.py`` so that code needing only splits and fingerprints (embeddings, the
GAN, evaluation) does not import Lightning, which costs seconds at start-up.
"""

from __future__ import annotations

import lightning.pytorch as pl
from torch.utils.data import DataLoader

from celebalab.models.data import BatchImages, EpochBatchSampler, keep_batch


class AttributeDataModule(pl.LightningDataModule):
    """Train / val / test loaders of whole uint8 batches for Lightning."""

    def __init__(
        self,
        datasets: dict[str, BatchImages],
        batch_size: int,
        seed: int,
        workers: int = 0,
        pin_memory: bool = False,
    ) -> None:
        super().__init__()
        self.datasets = datasets
        self.batch_size = batch_size
        self.seed = seed
        self.workers = workers
        self.pin_memory = pin_memory

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        trainer = self.trainer
        replicas = trainer.world_size if trainer is not None else 1
        rank = trainer.global_rank if trainer is not None else 0
        position = None
        if shuffle and trainer is not None:

            def position() -> tuple[int, int]:
                progress = trainer.fit_loop.epoch_loop.batch_progress.current
                return trainer.current_epoch, progress.processed

        sampler = EpochBatchSampler(
            len(self.datasets[split]), self.batch_size, shuffle, self.seed, replicas, rank,
            position,
        )  # fmt: skip
        return DataLoader(
            self.datasets[split],
            batch_sampler=sampler,
            collate_fn=keep_batch,
            num_workers=self.workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        """Shuffled, seeded per epoch, resumable mid-epoch."""
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        """In order, sharded across ranks."""
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        """In order, sharded across ranks."""
        return self._loader("test", shuffle=False)
