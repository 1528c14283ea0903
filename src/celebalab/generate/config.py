"""Settings of a GAN training run, validated once, saved in the checkpoint and in ``run.json``.

The options that define the experiment are fixed once a run has started (resuming with a
different one would not continue the same run); ``epochs`` may grow, and the execution settings
(precision, threads, progress) may change.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from celebalab.datasets.decode import CROPS
from celebalab.datasets.schema import ATTRIBUTE_NAMES
from celebalab.options import ConfigError, Interval, IsBool, Names, OneOf, Options, option

LOSSES = ("bce", "hinge")
#: Image sides with a network pair (:data:`celebalab.generate._networks.ARCHITECTURES`); here,
#: not there, so that the options (and ``celebalab --help``) do not import torch.
SIZES = (32, 64)
#: DiffAugment transform families (:mod:`celebalab.generate._augment`), applied in this order.
POLICIES = ("color", "translation", "cutout")
#: "auto": bf16-mixed on a GPU that has it, else 16-mixed; on the CPU bf16-mixed where it has native
#: bf16, else 32 (see :mod:`celebalab.generate._precision`).
PRECISIONS = ("auto", "32", "16-mixed", "bf16-mixed")
#: Values of recipe options in runs saved before the option existed (what those runs trained).
BEFORE_OPTION = {"augment": (), "spectral_norm": False}
#: The shared option error, under the name earlier code catches.
GanConfigError = ConfigError
_UNIT = Interval(float, 0, 1, strict_high=True)


@dataclass(frozen=True, kw_only=True)
class GanConfig(Options):
    """What to train: size (32: a small DCGAN pair, 64: standard DCGAN), data crop, schedule.

    ``conditional`` names the attributes the generator is conditioned on (empty: unconditional).
    ``ema_decay`` is the generator EMA's decay (warmed up as ``min(decay, (1+n)/(10+n))``).
    ``augment`` names the DiffAugment transforms applied to every discriminator input (see
    :mod:`celebalab.generate._augment`; empty: none); ``spectral_norm`` builds the spectrally
    normalised discriminator. Options marked ``fixed`` must equal the saved ones on ``--resume``.
    """

    WHAT = "GAN training"

    size: int = option(32, help="32: a small DCGAN pair; 64: standard DCGAN.",
                       check=OneOf(SIZES), fixed=True,
                       panel="Model")  # fmt: skip
    crop: str = option("center", help="How the aligned image becomes square.",
                       check=OneOf(CROPS), fixed=True, panel="Data")  # fmt: skip
    epochs: int = option(10, help="Epochs over the training split.", check=Interval(int, 1),
                         panel="Training")  # fmt: skip
    batch_size: int = option(64, help="Images per step and process.", check=Interval(int, 1),
                             fixed=True, panel="Speed")  # fmt: skip
    lr: float = option(2e-4, help="Adam learning rate of both networks.",
                       check=Interval(float, 0, strict=True), fixed=True,
                       panel="Training")  # fmt: skip
    beta1: float = option(0.5, help="Adam beta1 of both networks.", check=_UNIT, fixed=True,
                          panel="Training")  # fmt: skip
    loss: str = option("hinge", help="The GAN loss (bce: non-saturating).", check=OneOf(LOSSES),
                       fixed=True, panel="Model")  # fmt: skip
    conditional: tuple[str, ...] = option(
        (), check=Names("attribute", ATTRIBUTE_NAMES), fixed=True, panel="Data",
        help="Attributes to condition on, e.g. Smiling,Male,Eyeglasses.",
    )  # fmt: skip
    augment: tuple[str, ...] = option(
        (), check=Names("augmentation", POLICIES), fixed=True, panel="Training",
        help="DiffAugment transforms of every discriminator input (comma-separated), or none.",
    )  # fmt: skip
    spectral_norm: bool = option(False, help="Spectrally normalised discriminator (no "
                                 "BatchNorm).", check=IsBool(), fixed=True,
                                 panel="Model")  # fmt: skip
    ema_decay: float = option(0.999, help="Decay of the generator's EMA.", check=_UNIT,
                              fixed=True, panel="Training")  # fmt: skip
    seed: int = option(0, help="Seed of init, batch order and noise.", check=Interval(int, 0),
                       fixed=True, panel="Training")  # fmt: skip
    grid_size: int = option(64, help="Faces in the fixed-noise grid of each epoch.",
                            check=Interval(int, 1), fixed=True, panel="Output")  # fmt: skip
    precision: str = option(
        "auto", check=OneOf(PRECISIONS), panel="Speed",
        help="auto: GPU bf16/16-mixed; CPU bf16 where native, else 32.",
    )  # fmt: skip
    checkpoint_every: int = option(200, help="Steps between checkpoints.",
                                   check=Interval(int, 1), panel="Output")  # fmt: skip
    threads: int | None = option(None, help="CPU threads (default: all cores).",
                                 check=Interval(int, 1), panel="Speed")  # fmt: skip
    progress: bool = option(True, help="Show a progress bar.", check=IsBool(), panel="Output")

    @classmethod
    def from_dict(cls, values: dict[str, Any], source: str | Path = "options") -> GanConfig:
        """Options saved in a checkpoint or ``run.json``; missing recipe options take their
        :data:`BEFORE_OPTION` value (a run saved before they existed trained without)."""
        return super().from_dict({**BEFORE_OPTION, **values}, source)
