"""``run.json`` of a model run as typed records: trained runs and imported models.

:class:`ModelRun` is what every model run holds (how to rebuild the model and make its input);
:class:`ClassifierRun` adds what training wrote (data, training summary, options, validation
metrics), :class:`ImportedRun` what ``celebalab model import`` wrote (the source file and its
preprocessing). :func:`model_record` reads either; files written before these records existed
read the same (missing optional keys take their defaults).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from celebalab.models.config import TrainConfig
from celebalab.rundir import OMIT_NONE, Record

FORMAT_VERSION = 1
IMPORTED = "imported"


@dataclass(frozen=True, kw_only=True)
class Normalisation(Record):
    """Model input is ``(uint8 / scale - mean) / std`` per channel."""

    mean: tuple[float, ...]
    std: tuple[float, ...]
    scale: float = 255


@dataclass(frozen=True, kw_only=True)
class RunData(Record):
    """The data a run was trained on (empty for imported models)."""

    root: str | None = None
    dataset: str | None = field(default=None, metadata=OMIT_NONE)
    layout: str | None = field(default=None, metadata=OMIT_NONE)
    fingerprint: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    partition_source: str | None = None
    source: str | None = field(default=None, metadata=OMIT_NONE)
    notes: tuple[str, ...] = ()
    skipped_images: tuple[dict[str, str], ...] = ()
    #: ``{"count", "list"}``: table rows without an image file, and the file naming them.
    missing_images: dict[str, Any] | None = field(default=None, metadata=OMIT_NONE)


@dataclass(frozen=True, kw_only=True)
class TrainingSummary(Record):
    """How the training went (``run.json`` ``training``)."""

    epochs: int
    epochs_run: int
    global_step: int = 0
    batch_size: int = 0
    lr: float = 0.0
    optimizer: str = ""
    precision: str | None = None
    devices: int = 1
    accelerator: str = ""
    loss: str = ""
    focal_gamma: float | None = None
    pos_weight: tuple[float, ...] | None = None
    augment: bool = False
    seed: int = 0
    weights: str | None = None
    best_checkpoint: str | None = None
    seconds: float = 0.0
    images_per_second: float | None = None
    torch_version: str = ""


@dataclass(frozen=True, kw_only=True)
class IdentityLoss(Record):
    """The margin loss of an identity run (its class centres live only in the checkpoints)."""

    name: str
    margin: float | None = None
    scale: float = 30.0
    train_identities: int = 0


@dataclass(frozen=True, kw_only=True)
class ModelRun(Record):
    """What every model run holds: how to rebuild the model and make its input."""

    format_version: int = FORMAT_VERSION
    celebalab_version: str = ""
    kind: str | None = field(default=None, metadata=OMIT_NONE)
    arch: str
    task: str = "attributes"
    attribute_names: tuple[str, ...]
    image_size: int
    crop: str = "center"
    normalisation: Normalisation
    thresholds: dict[str, float] = field(default_factory=dict)
    threshold_metric: str | None = None
    alignment: dict[str, Any] | None = field(default=None, metadata=OMIT_NONE)
    embedding_dim: int | None = field(default=None, metadata=OMIT_NONE)
    data: RunData = field(default_factory=RunData)

    @property
    def imported(self) -> bool:
        """Whether the run wraps a pretrained model (``celebalab model import``)."""
        return self.kind == IMPORTED

    @property
    def outputs(self) -> int:
        """Width of the model's output: the embedding size, else one logit per attribute."""
        return self.embedding_dim or len(self.attribute_names)

    @property
    def split_seed(self) -> int:
        """Seed of the train/val/test split when the data has no partition file."""
        return 0


@dataclass(frozen=True, kw_only=True)
class ClassifierRun(ModelRun):
    """A run ``celebalab train`` wrote (attribute classifier or identity model)."""

    training: TrainingSummary | None = field(default=None, metadata=OMIT_NONE)
    train_config: TrainConfig | None = field(default=None, metadata=OMIT_NONE)
    identity_loss: IdentityLoss | None = field(default=None, metadata=OMIT_NONE)
    #: Per split (``val``), the metric table of the task (metric name → value).
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def val_metrics(self) -> dict[str, Any]:
        """The validation metrics (empty for a run without them)."""
        return self.metrics.get("val", {})

    @property
    def split_seed(self) -> int:
        """Seed of the train/val/test split when the data has no partition file (training's)."""
        return self.training.seed if self.training else 0


@dataclass(frozen=True, kw_only=True)
class ImportedSource(Record):
    """Where an imported model came from and how its input is laid out."""

    format: str
    file: str | None = field(default=None, metadata=OMIT_NONE)
    original: str | None = field(default=None, metadata=OMIT_NONE)
    sha256: str | None = field(default=None, metadata=OMIT_NONE)
    input_name: str | None = field(default=None, metadata=OMIT_NONE)
    input_shape: tuple[int | None, ...] | None = field(default=None, metadata=OMIT_NONE)
    layout: str = "nchw"
    fixed_batch: int | None = field(default=None, metadata=OMIT_NONE)
    arch: str | None = field(default=None, metadata=OMIT_NONE)
    preset: str | None = field(default=None, metadata=OMIT_NONE)
    outputs: int | None = field(default=None, metadata=OMIT_NONE)
    package: str | None = field(default=None, metadata=OMIT_NONE)
    files: dict[str, str] | None = field(default=None, metadata=OMIT_NONE)


@dataclass(frozen=True, kw_only=True)
class ImportedRun(ModelRun):
    """A run ``celebalab model import`` wrote (``kind: "imported"``)."""

    kind: str | None = IMPORTED
    channels: str = "rgb"
    source: ImportedSource
    licence: str = ""
    output_dim: int | None = field(default=None, metadata=OMIT_NONE)


def model_record(config: dict[str, Any], source: str | Path = "run.json") -> ModelRun:
    """The record of a parsed ``run.json``: :class:`ImportedRun` or :class:`ClassifierRun`."""
    if config.get("kind") == IMPORTED:
        return ImportedRun.from_json(config, source)
    return ClassifierRun.from_json(config, source)
