"""Settings of a GAN training run, validated once, saved in the checkpoint and in ``run.json``.

The options that define the experiment are fixed once a run has started (resuming with a
different one would not continue the same run); ``epochs`` may grow, and the execution settings
(precision, threads, progress) may change.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from celebalab.datasets.decode import CROPS
from celebalab.datasets.schema import ATTRIBUTE_NAMES, unknown_name_message
from celebalab.errors import CelebalabError
from celebalab.generate.augment import POLICIES
from celebalab.generate.networks import ARCHITECTURES

LOSSES = ("bce", "hinge")
#: "auto": bf16-mixed on a GPU that has it, else 16-mixed; on the CPU bf16-mixed where it has native
#: bf16, else 32 (see :mod:`celebalab.generate.precision`).
PRECISIONS = ("auto", "32", "16-mixed", "bf16-mixed")
#: Options that may differ on ``--resume``; every other field must match the saved run.
RESUMABLE = ("epochs", "precision", "threads", "progress", "checkpoint_every")
#: Values of recipe options in runs saved before the option existed (what those runs trained).
BEFORE_OPTION = {"augment": (), "spectral_norm": False}


class GanConfigError(CelebalabError):
    """An option of ``celebalab gan train`` is out of range or unknown."""


@dataclass(frozen=True, kw_only=True)
class GanConfig:
    """What to train: size (32: a small DCGAN pair, 64: standard DCGAN), data crop, schedule.

    ``conditional`` names the attributes the generator is conditioned on (empty: unconditional).
    ``ema_decay`` is the generator EMA's decay (warmed up as ``min(decay, (1+n)/(10+n))``).
    ``augment`` names the DiffAugment transforms applied to every discriminator input (see
    :mod:`celebalab.generate.augment`; empty: none); ``spectral_norm`` builds the spectrally
    normalised discriminator.
    """

    size: int = 32
    crop: str = "center"
    epochs: int = 10
    batch_size: int = 128
    lr: float = 2e-4
    beta1: float = 0.5
    loss: str = "bce"
    conditional: tuple[str, ...] = field(default_factory=tuple)
    augment: tuple[str, ...] = field(default_factory=tuple)
    spectral_norm: bool = False
    ema_decay: float = 0.999
    seed: int = 0
    grid_size: int = 64
    precision: str = "auto"
    checkpoint_every: int = 200
    threads: int | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        if self.size not in ARCHITECTURES:
            raise GanConfigError(f"--size {self.size}: choose one of {sorted(ARCHITECTURES)}")
        if self.crop not in CROPS:
            raise GanConfigError(unknown_name_message("crop", self.crop, CROPS))
        if self.loss not in LOSSES:
            raise GanConfigError(unknown_name_message("loss", self.loss, LOSSES))
        if self.precision not in PRECISIONS:
            raise GanConfigError(unknown_name_message("precision", self.precision, PRECISIONS))
        for name in self.conditional:
            if name not in ATTRIBUTE_NAMES:
                raise GanConfigError(unknown_name_message("attribute", name, ATTRIBUTE_NAMES))
        for name in self.augment:
            if name not in POLICIES:
                raise GanConfigError(unknown_name_message("augmentation", name, POLICIES))
        if len(set(self.conditional)) != len(self.conditional):
            raise GanConfigError(f"--conditional {','.join(self.conditional)}: a name repeats")
        positive = {"epochs": self.epochs, "batch_size": self.batch_size, "lr": self.lr}
        positive.update(grid_size=self.grid_size, checkpoint_every=self.checkpoint_every)
        for name, value in positive.items():
            if not value > 0:
                raise GanConfigError(f"--{name.replace('_', '-')} must be positive, not {value}")
        if self.threads is not None and self.threads < 1:
            raise GanConfigError(f"--threads must be at least 1, not {self.threads}")
        if not 0.0 <= self.ema_decay < 1.0 or not 0.0 <= self.beta1 < 1.0:
            raise GanConfigError("--ema-decay and beta1 must lie in [0, 1)")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (tuples as lists)."""
        out = asdict(self)
        out["conditional"] = list(self.conditional)
        out["augment"] = list(self.augment)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GanConfig:
        """Inverse of :meth:`to_dict`; unknown keys are ignored, missing recipe options take
        their :data:`BEFORE_OPTION` value (a run saved before they existed trained without)."""
        known = {f.name for f in fields(cls)}
        values = {**BEFORE_OPTION, **{k: v for k, v in data.items() if k in known}}
        values["conditional"] = tuple(values.get("conditional", ()))
        values["augment"] = tuple(values["augment"])
        return cls(**values)

    def differences(self, other: GanConfig) -> list[str]:
        """Fixed options whose values differ between ``self`` and ``other``."""
        mine, theirs = self.to_dict(), other.to_dict()
        return [k for k in mine if k not in RESUMABLE and mine[k] != theirs[k]]
