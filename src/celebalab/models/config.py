"""The typed, validated, frozen configuration of a training run (``celebalab train``'s options).

Why one object: the options used to travel as an untyped dict whose keys changed on the way
(``size`` became ``image_size``). :class:`TrainConfig` is built once, checked once against the
constraints declared in :data:`CONSTRAINTS` (scikit-learn style: one place says what each option
accepts, and every message names the option, e.g. ``--workers must be >= 0, got -1``), saved as
``RUN/train_options.json`` when training starts and as ``train_config`` in ``run.json`` when it
ends, and restored from there on ``--resume``.

Options in :data:`FIXED_ON_RESUME` define the experiment and may not change when a run is
resumed; the others (epochs, to train longer, and how the work is executed) may.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from celebalab.errors import OptionError

#: ``--precision`` values Lightning accepts that celebalab supports.
PRECISIONS: tuple[str, ...] = ("32-true", "32", "16-mixed", "bf16-mixed")
#: Training losses (``--loss``); the functions live in :mod:`celebalab.models.module`.
LOSSES: tuple[str, ...] = ("bce", "focal")


class TrainConfigError(OptionError):
    """An option of ``celebalab train`` is out of range or of the wrong type."""


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """Everything that defines (and runs) one training; ``None`` means "choose for me".

    Add an option here with its default, declare its constraint in :data:`CONSTRAINTS`, and
    mention it in :data:`FIXED_ON_RESUME` when changing it would make a resumed run a different
    experiment. A task with options of its own (e.g. an embedding size) adds them the same way.
    """

    root: str = ""
    task: str = "attributes"
    arch: str = "small_cnn"
    size: int = 128
    crop: str = "center"
    epochs: int = 10
    batch_size: int = 128
    lr: float = 3e-3
    loss: str = "bce"
    pos_weight: bool = True
    focal_gamma: float = 2.0
    patience: int = 3
    threshold_metric: str = "balanced_accuracy"
    seed: int = 0
    # Off by default: short runs on aligned faces under-fit rather than over-fit, and zooming
    # changes the size cues of Big_Nose, Big_Lips, Narrow_Eyes or Chubby.
    augment: bool = False
    weights: str | None = None
    checkpoint_every: int = 50
    # --task identity (models/identity.py): embedding size and margin loss; margin None = the
    # loss's default (ArcFace 0.5 rad, CosFace 0.35). Scale 30, not the papers' 64: on the
    # validation split of 3,000 synthetic faces (6 epochs, 64 px) mAP@R was 0.577 vs 0.459.
    embedding_dim: int = 128
    identity_loss: str = "arcface"
    margin: float | None = None
    scale: float = 30.0
    # Execution settings: free to change on resume.
    devices: str | int | None = None
    precision: str | None = None
    workers: int | None = None
    threads: int | None = None
    pack: bool = True

    def __post_init__(self) -> None:
        validate(self)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (field order)."""
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> TrainConfig:
        """A validated copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], source: str | Path = "options") -> TrainConfig:
        """Build from a saved dict; unknown keys are an error naming ``source``."""
        unknown = sorted(set(values) - field_names())
        if unknown:
            raise TrainConfigError(f"{source}: unknown training option(s) {', '.join(unknown)}")
        return cls(**values)

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        """Read a config saved by :meth:`save` (``train_options.json``)."""
        path = Path(path)
        try:
            values = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise TrainConfigError(f"{path}: unreadable options file ({err})") from None
        if not isinstance(values, dict):
            raise TrainConfigError(f"{path}: options file is not a JSON object")
        return cls.from_dict(values, path)

    def save(self, path: str | Path) -> Path:
        """Write the config atomically as JSON."""
        from celebalab.io import write_json_atomic

        return write_json_atomic(path, self.to_dict())


#: Options fixed once a run has started (changing them on ``--resume`` is refused).
FIXED_ON_RESUME: tuple[str, ...] = (
    "task", "arch", "size", "batch_size", "lr", "loss", "pos_weight", "focal_gamma", "seed",
    "threshold_metric", "augment", "weights", "root", "crop",
    "embedding_dim", "identity_loss", "margin", "scale",
)  # fmt: skip


def field_names() -> set[str]:
    """Names of every :class:`TrainConfig` option."""
    return {f.name for f in fields(TrainConfig)}


@dataclass(frozen=True)
class Interval:
    """A number ``>= low`` (or ``> low`` when ``strict``), optionally ``<= high``."""

    kind: type
    low: float | None = None
    high: float | None = None
    strict: bool = False

    def problem(self, value: Any) -> str | None:
        """Why ``value`` does not satisfy the constraint, or None."""
        if self.kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            return f"must be an integer, got {value!r}"
        if not isinstance(value, int | float) or isinstance(value, bool):
            return f"must be a number, got {value!r}"
        if self.low is not None:
            if self.strict and not value > self.low:
                return f"must be > {self.low:g}, got {value!r}"
            if not self.strict and not value >= self.low:
                return f"must be >= {self.low:g}, got {value!r}"
        if self.high is not None and value > self.high:
            return f"must be <= {self.high:g}, got {value!r}"
        return None


@dataclass(frozen=True)
class OneOf:
    """One of a fixed set of strings (the set may be given lazily, to avoid heavy imports)."""

    choices: tuple[str, ...]

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is not one of the choices, or None."""
        if value in self.choices:
            return None
        return f"must be one of {', '.join(self.choices)}, not {value!r}"


@dataclass(frozen=True)
class IsBool:
    """A boolean flag."""

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is not a bool, or None."""
        return None if isinstance(value, bool) else f"must be true or false, got {value!r}"


def _constraints() -> dict[str, Any]:
    from celebalab.datasets.decode import CROPS
    from celebalab.models.thresholds import THRESHOLD_METRICS

    return {
        "size": Interval(int, 16),
        "crop": OneOf(CROPS),
        "epochs": Interval(int, 1),
        "batch_size": Interval(int, 1),
        "lr": Interval(float, 0, strict=True),
        "loss": OneOf(LOSSES),
        "pos_weight": IsBool(),
        "focal_gamma": Interval(float, 0),
        "patience": Interval(int, 0),
        "threshold_metric": OneOf(THRESHOLD_METRICS),
        "seed": Interval(int, 0),
        "augment": IsBool(),
        "checkpoint_every": Interval(int, 1),
        "embedding_dim": Interval(int, 2),
        "identity_loss": OneOf(("arcface", "cosface")),
        "margin": Interval(float, 0),
        "scale": Interval(float, 0, strict=True),
        "precision": OneOf(PRECISIONS),
        "workers": Interval(int, 0),
        "threads": Interval(int, 1),
        "pack": IsBool(),
    }


#: Option → constraint; ``None`` values ("choose for me") of optional options are not checked.
CONSTRAINTS: dict[str, Any] = _constraints()


def validate(config: TrainConfig) -> None:
    """Check every declared constraint (and the architecture); raise one clear error."""
    for name, constraint in CONSTRAINTS.items():
        value = getattr(config, name)
        if value is None:
            continue
        problem = constraint.problem(value)
        if problem:
            raise TrainConfigError(f"--{name.replace('_', '-')} {problem}")
    from celebalab.models import ARCHITECTURES

    if config.arch not in ARCHITECTURES:
        from celebalab.datasets.schema import unknown_name_message

        raise TrainConfigError(unknown_name_message("architecture", config.arch, ARCHITECTURES))
