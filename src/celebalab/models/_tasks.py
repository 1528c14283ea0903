"""Training tasks: what a run learns, chosen by ``TrainConfig.task``.

The training flow (:mod:`celebalab.models._train`) is the same for every task: read the data,
split it, build batches, fit with Lightning, finish, write the run. What differs lives in a small
:class:`Task` object: the names of the outputs, the per-row targets a batch carries, the checks
that refuse hopeless data before anything is written, the LightningModule (its loss and
validation metrics), and the finishing step (for attributes: thresholds tuned on validation).

How to add a task (e.g. ``--task identity``):

1. subclass :class:`Task` in its own module (``models/identity.py``), implementing the abstract
   methods; options of its own (an embedding size, a margin) go into
   :class:`celebalab.models.config.TrainConfig` with a declared constraint;
2. register it in :data:`celebalab.models._registry.TASKS` (the registry imports every task
   module; task modules import only this one);
3. make :func:`celebalab.models.inference.extract_features` return what the task's model
   considers its features, when that is not the input of the final linear layer.

Any other ``--task`` value is an attribute name: the binary task of that one attribute.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

import numpy as np

from celebalab.errors import CelebalabError
from celebalab.models.config import TrainConfig

if TYPE_CHECKING:
    import lightning.pytorch as pl
    import pandas as pd

    from celebalab.models.data import Splits
    from celebalab.models.inference import SplitBatches
    from celebalab.models.run import LoadedRun


class TaskDataError(CelebalabError):
    """The data cannot train this task (e.g. a binary attribute with a single class)."""


class Task(ABC):
    """One kind of training. Instances are built from the config by :func:`get_task`."""

    def __init__(self, config: TrainConfig) -> None:
        self.config = config

    @abstractmethod
    def output_names(self) -> list[str]:
        """Names of the model's outputs, in logit order (``attribute_names`` in ``run.json``)."""

    @abstractmethod
    def targets(self, table: pd.DataFrame, splits: Splits) -> np.ndarray:
        """Per table row, what a training batch carries besides the images (``N×…`` array)."""

    @abstractmethod
    def check_data(self, splits: Splits, targets: np.ndarray) -> None:
        """Refuse data this task cannot learn from, before anything is written."""

    @abstractmethod
    def build_module(
        self, splits: Splits, targets: np.ndarray, total_steps: int
    ) -> pl.LightningModule:
        """The LightningModule (loss, validation metrics, optimiser) for ``total_steps`` steps."""

    @abstractmethod
    def finish(
        self, run: LoadedRun, splits: Splits, val: SplitBatches, targets: np.ndarray
    ) -> dict[str, Any]:
        """After fitting: the ``run.json`` entries this task adds (``thresholds``, ``metrics``…).

        ``run`` holds the best weights; ``val`` iterates the validation split.
        """


class AttributeTask(Task):
    """Multi-label attributes (``--task attributes``: all 40) or one binary attribute.

    Targets are the 0/1 label columns; the module is
    :class:`celebalab.models._module.AttributeClassifier` (BCE or focal loss, optional positive
    weighting); the finishing step tunes one threshold per attribute on the validation split.
    """

    def output_names(self) -> list[str]:
        """All 40 attribute names, or the one named by ``--task``."""
        from celebalab.datasets.schema import ATTRIBUTE_NAMES, attribute_index

        task = self.config.task
        if task == "attributes":
            return list(ATTRIBUTE_NAMES)
        try:
            attribute_index(task)
        except KeyError as err:
            raise CelebalabError(f"--task: {err.args[0]} (or 'attributes' for all 40)") from None
        return [task]

    def targets(self, table: pd.DataFrame, splits: Splits) -> np.ndarray:
        """``N×K`` uint8 labels of the predicted attributes."""
        return splits.labels

    def check_data(self, splits: Splits, targets: np.ndarray) -> None:
        """A single-attribute task needs both classes in the training split."""
        if self.config.task == "attributes":
            return
        train = targets[splits.rows["train"], 0]
        positives = int(train.sum())
        if positives in (0, len(train)):
            which = "no positive" if positives == 0 else "only positive"
            raise TaskDataError(
                f"--task {self.config.task}: the training split has {which} images "
                f"({positives} of {len(train)} positive); a classifier needs both classes. "
                "Choose another attribute or --task attributes"
            )

    def build_module(self, splits: Splits, targets: np.ndarray, total_steps: int) -> Any:
        """An :class:`AttributeClassifier` with the configured loss, lr and schedule length."""
        from celebalab.models._module import AttributeClassifier
        from celebalab.models.architectures import IMAGENET_MEAN, IMAGENET_STD
        from celebalab.models.data import positive_weights

        cfg = self.config
        weights = None
        if cfg.pos_weight:
            weights = positive_weights(targets[splits.rows["train"]]).tolist()
        return AttributeClassifier(
            cfg.arch,
            self.output_names(),
            IMAGENET_MEAN,
            IMAGENET_STD,
            lr=cfg.lr,
            pos_weight=weights,
            focal_gamma=cfg.focal_gamma if cfg.loss == "focal" else 0.0,
            augment=cfg.augment,
            seed=cfg.seed,
            channels_last=True,  # faster convolutions on GPUs and on CPUs alike
            total_steps=total_steps,
        )

    def finish(
        self, run: LoadedRun, splits: Splits, val: SplitBatches, targets: np.ndarray
    ) -> dict[str, Any]:
        """Thresholds tuned on validation, and the validation metrics with and without them."""
        from celebalab.metrics.attributes import attribute_metrics, headline
        from celebalab.models._thresholds import tune_thresholds
        from celebalab.models.inference import predict_probabilities

        names = run.attribute_names
        kept, probs = predict_probabilities(run, val)
        y_val = targets[kept]
        thresholds = tune_thresholds(y_val, probs, self.config.threshold_metric)
        prevalence = targets[splits.rows["train"]].mean(axis=0)
        per_attr = attribute_metrics(y_val, probs, thresholds, names, train_prevalence=prevalence)
        at_half = headline(attribute_metrics(y_val, probs, np.full(len(names), 0.5), names))
        metrics = {
            **headline(per_attr),
            "mean_balanced_accuracy_at_0.5": at_half["mean_balanced_accuracy"],
            "mean_accuracy_at_0.5": at_half["mean_accuracy"],
            "per_attribute": per_attr[
                ["balanced_accuracy", "accuracy", "f1", "roc_auc", "threshold", "prevalence"]
            ].to_dict(orient="index"),
        }
        return {
            "thresholds": dict(zip(names, map(float, thresholds), strict=True)),
            "threshold_metric": self.config.threshold_metric,
            "metrics": {"val": metrics},
        }
