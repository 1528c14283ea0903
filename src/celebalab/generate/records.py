"""The GAN run's JSON files as typed records: ``run.json`` (:class:`GanRun`, what ``train_gan``
returns) and ``eval/metrics.json`` (:class:`GanEvaluation`, what ``evaluate_gan`` returns).

Runs and evaluations written before these records read the same (:class:`~celebalab.rundir.
Record`: optional keys take their defaults, undeclared keys are kept).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from celebalab.generate.config import GanConfig
from celebalab.rundir import NOT_WRITTEN, OMIT_NONE, Record

FORMAT_VERSION = 1
KIND = "gan"


@dataclass(frozen=True, kw_only=True)
class GanRunData(Record):
    """The data a GAN was trained on."""

    root: str | None = None
    fingerprint: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    partition_source: str | None = None


@dataclass(frozen=True, kw_only=True)
class GanTraining(Record):
    """How the training went; ``stopped_by`` is "epochs" or "time budget" (``--minutes``)."""

    steps: int
    epochs_run: int = 0
    seconds: float = 0.0
    images_per_second: float | None = None
    precision_used: str = "32"
    world_size: int = 1
    device: str = "cpu"
    stopped_by: str | None = field(default=None, metadata=OMIT_NONE)


@dataclass(frozen=True, kw_only=True)
class GanRun(Record):
    """``RUN/run.json`` of a GAN run (layout in :mod:`celebalab.generate.run`)."""

    format_version: int = FORMAT_VERSION
    celebalab_version: str = ""
    kind: str = KIND
    arch: str
    image_size: int
    crop: str = "center"
    noise_dim: int = 100
    conditional: tuple[str, ...] = ()
    config: GanConfig
    data: GanRunData = field(default_factory=GanRunData)
    training: GanTraining
    #: Collapse warnings: ``{"epoch", "step", "kind", "message"}``.
    warnings: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, kw_only=True)
class MetricSpace(Record):
    """FID, KID, precision, recall in one feature space: generated vs real and the real-vs-real
    floor (same metric names in both)."""

    name: str
    description: str | None = field(default=None, metadata=OMIT_NONE)
    classifier: str | None = field(default=None, metadata=OMIT_NONE)
    generated: dict[str, float]
    floor: dict[str, float]


@dataclass(frozen=True, kw_only=True)
class Memorisation(Record):
    """Nearest-training-image distances of generated samples vs held-out real images."""

    reference_images: int
    reference_split: str
    generated_median: float
    heldout_median: float
    ratio: float
    closer_than_heldout_p1: float
    space: str = "classifier features"


@dataclass(frozen=True, kw_only=True)
class ConditionalCheck(Record):
    """Conditioned attributes the classifier recognises on samples (and its real ceiling)."""

    per_attribute: tuple[dict[str, Any], ...] = ()
    all_generated: float | None = None
    all_real: float | None = None
    not_checked: tuple[str, ...] = ()
    note: str | None = None


@dataclass(frozen=True, kw_only=True)
class GanEvaluation(Record):
    """``RUN/eval/metrics.json``; ``pictures`` (nearest-pair PNG, combination grids) are kept
    beside it for the report, not written."""

    samples_per_set: int
    feature_space: MetricSpace
    inception: MetricSpace | None = field(default=None, metadata=OMIT_NONE)
    memorisation: Memorisation
    conditional: ConditionalCheck | None = field(default=None, metadata=OMIT_NONE)
    data_matches_training: bool | None = None
    pictures: dict[str, Any] = field(default_factory=dict, metadata=NOT_WRITTEN)

    def spaces(self) -> list[MetricSpace]:
        """The feature spaces measured: Inception first when it was, then the classifier's."""
        return [s for s in (self.inception, self.feature_space) if s is not None]
