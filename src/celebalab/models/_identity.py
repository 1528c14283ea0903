"""``celebalab train ROOT --task identity``: a face-recognition model trained on the identities.

The task object plugged into the training flow of :mod:`celebalab.models._train` (see
:mod:`celebalab.models._tasks`): targets are each image's training class (its identity, numbered
among the training split's people) and identity number; the module is
:class:`~celebalab.models._identity_module.IdentityModule`; the finishing step measures open-set
verification and identification on the validation split (people never seen in training on
CelebA, whose partitions are identity-disjoint). The run directory says ``task: "identity"``,
``embedding_dim`` and the loss; ``attribute_names`` is empty (the model predicts no attribute)
and :func:`celebalab.models.inference.extract_features` returns the unit-norm embedding.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from celebalab.models._tasks import Task, TaskDataError

if TYPE_CHECKING:
    import pandas as pd

    from celebalab.models.data import Splits
    from celebalab.models.inference import SplitBatches
    from celebalab.models.run import LoadedRun


class IdentityTask(Task):
    """Identity (face-recognition) training with a margin loss over the training people."""

    def output_names(self) -> list[str]:
        """No attribute outputs: the model's output is the embedding."""
        return []

    def margin(self) -> float:
        """The configured margin, or the loss's default."""
        from celebalab.models._identity_module import DEFAULT_MARGINS

        cfg = self.config
        return float(cfg.margin if cfg.margin is not None else DEFAULT_MARGINS[cfg.identity_loss])

    def targets(self, table: pd.DataFrame, splits: Splits) -> np.ndarray:
        """``N×2`` int64: training class (``-1`` outside the training people) and identity."""
        identity = table["identity"].to_numpy(np.int64)
        train_ids = np.unique(identity[splits.rows["train"]])
        train_ids = train_ids[train_ids >= 0]
        position = np.searchsorted(train_ids, identity)
        position = np.clip(position, 0, max(len(train_ids) - 1, 0))
        known = (identity >= 0) & (len(train_ids) > 0)
        if len(train_ids):
            known &= train_ids[position] == identity
        classes = np.where(known, position, -1)
        in_train = np.zeros(len(table), bool)
        in_train[splits.rows["train"]] = True
        classes = np.where(in_train, classes, -1)
        return np.stack([classes, identity], axis=1).astype(np.int64)

    def check_data(self, splits: Splits, targets: np.ndarray) -> None:
        """An identity file, two training people and two validation images of one person."""
        root = self.config.root
        if (targets[:, 1] < 0).all():
            raise TaskDataError(
                f"{root}: no identity file (identity_CelebA.txt); the Kaggle copy of CelebA has "
                "none. --task identity needs it: add identity_CelebA.txt from the official "
                "release beside the other annotation files"
            )
        train_classes = np.unique(targets[splits.rows["train"], 0])
        if (train_classes >= 0).sum() < 2:
            raise TaskDataError(f"{root}: the training split holds fewer than 2 identities")
        val = targets[splits.rows["val"], 1]
        val = val[val >= 0]
        if len(val) and np.bincount(val - val.min()).max() < 2:
            raise TaskDataError(
                f"{root}: no person has two validation images; open-set verification on the "
                "validation split needs pairs of the same person"
            )

    def build_module(self, splits: Splits, targets: np.ndarray, total_steps: int) -> Any:
        """An :class:`IdentityModule` over the training people."""
        from celebalab.models._identity_module import IdentityModule
        from celebalab.models.architectures import IMAGENET_MEAN, IMAGENET_STD

        cfg = self.config
        classes = int(targets[splits.rows["train"], 0].max()) + 1
        return IdentityModule(
            cfg.arch, classes, cfg.embedding_dim, IMAGENET_MEAN, IMAGENET_STD,
            loss=cfg.identity_loss, margin=self.margin(), scale=cfg.scale, lr=cfg.lr,
            augment=cfg.augment, seed=cfg.seed, channels_last=True, total_steps=total_steps,
        )  # fmt: skip

    def finish(
        self, run: LoadedRun, splits: Splits, val: SplitBatches, targets: np.ndarray
    ) -> dict[str, Any]:
        """Open-set figures of the best weights on the validation split; the run's keys."""
        from celebalab.models._identity_module import open_set_figures
        from celebalab.models.inference import extract_features

        rows, vectors = [], []
        for batch in val:
            rows.append(batch.rows)
            vectors.append(extract_features(run, batch.images).cpu().numpy())
        kept = np.concatenate(rows)
        figures = open_set_figures(np.concatenate(vectors), targets[kept, 1])
        train_ids = targets[splits.rows["train"], 1]
        train_people = len(np.unique(train_ids[train_ids >= 0]))
        # open set when no validation person was trained on (CelebA's official partition)
        open_set = not bool(np.isin(targets[kept, 1], train_ids[train_ids >= 0]).any())
        cfg = self.config
        return {
            "thresholds": {},
            "threshold_metric": None,
            "embedding_dim": cfg.embedding_dim,
            "identity_loss": {"name": cfg.identity_loss, "margin": self.margin(),
                              "scale": cfg.scale, "train_identities": train_people},
            "metrics": {"val": {**figures, "open_set": open_set}},
        }  # fmt: skip
