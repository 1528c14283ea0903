"""The typed, validated, frozen configuration of a training run (``celebalab train``'s options).

Why one object: the options used to travel as an untyped dict whose keys changed on the way
(``size`` became ``image_size``). :class:`TrainConfig` is built once and checked once against
the constraint declared on each field (:mod:`celebalab.options`: every message names the
option, e.g. ``--workers must be >= 0, got -1``), saved as ``RUN/train_options.json`` when
training starts and as ``train_config`` in ``run.json`` when it ends, and restored from there
on ``--resume``. ``celebalab train``'s options are made from these fields
(:mod:`celebalab.cli_options`): a new option is added here only.

Options marked ``fixed`` define the experiment and may not change when a run is resumed; the
others (epochs, to train longer, and how the work is executed) may.

:class:`EvaluateRunOptions` and :class:`PredictOptions` are ``celebalab evaluate``'s and
``celebalab predict``'s options, declared the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from celebalab.alignment import DETECT_MODES
from celebalab.datasets.decode import CROPS
from celebalab.models import ARCHITECTURES
from celebalab.models._thresholds import THRESHOLD_METRICS
from celebalab.options import ConfigError, Interval, IsBool, Names, OneOf, Options, option
from celebalab.runtime import SPLITS

#: ``--precision`` values Lightning accepts that celebalab supports.
PRECISIONS: tuple[str, ...] = ("32-true", "32", "16-mixed", "bf16-mixed")
#: Training losses (``--loss``); the functions live in :mod:`celebalab.models._module`.
LOSSES: tuple[str, ...] = ("bce", "focal")
#: The shared option error, under the name earlier code catches.
TrainConfigError = ConfigError


@dataclass(frozen=True, kw_only=True)
class TrainConfig(Options):
    """Everything that defines (and runs) one training; ``None`` means "choose for me".

    Add an option here with :func:`~celebalab.options.option` (default, help, constraint,
    panel, and ``fixed=True`` when changing it would make a resumed run a different experiment).
    """

    WHAT = "training"

    root: str = option("", help="Dataset root (the ROOT argument).", fixed=True, cli=False)
    task: str = option(
        "attributes", fixed=True, panel="Model",
        help="'attributes' (all 40, multi-label), one attribute (e.g. Smiling), or 'identity' "
        "(face recognition: an L2-normalised embedding, margin loss).",
    )  # fmt: skip
    arch: str = option("small_cnn", help="Network.", check=Names("architecture", ARCHITECTURES),
                       fixed=True, panel="Model")  # fmt: skip
    size: int = option(128, help="Image side in px.", check=Interval(int, 16), fixed=True,
                       panel="Data")  # fmt: skip
    crop: str = option(
        "center", check=OneOf(CROPS), fixed=True, panel="Data",
        help="'center': the central square; 'none': the whole image squeezed.",
    )  # fmt: skip
    epochs: int = option(10, help="Maximum epochs.", check=Interval(int, 1), panel="Training")
    batch_size: int = option(128, help="Images per device step.", check=Interval(int, 1),
                             fixed=True, panel="Speed")  # fmt: skip
    lr: float = option(3e-3, help="AdamW learning rate.", check=Interval(float, 0, strict=True),
                       fixed=True, panel="Training")  # fmt: skip
    loss: str = option("bce", help="Training loss.", check=OneOf(LOSSES), fixed=True,
                       panel="Training")  # fmt: skip
    pos_weight: bool = option(
        True, check=IsBool(), fixed=True, panel="Training",
        help="Weight positives by neg/pos; --no-pos-weight: plain BCE, as in papers.",
    )  # fmt: skip
    focal_gamma: float = option(2.0, help="Focal loss gamma.", check=Interval(float, 0),
                                fixed=True, panel="Training")  # fmt: skip
    patience: int = option(3, help="Early stopping: epochs without val-loss gain.",
                           check=Interval(int, 0), panel="Training")  # fmt: skip
    threshold_metric: str = option(
        "balanced_accuracy", check=OneOf(THRESHOLD_METRICS), fixed=True, panel="Training",
        help="What per-attribute thresholds maximise on val.",
    )  # fmt: skip
    seed: int = option(0, help="Seed of init, shuffling, augmentation.", check=Interval(int, 0),
                       fixed=True, panel="Training")  # fmt: skip
    # Off by default: short runs on aligned faces under-fit rather than over-fit, and zooming
    # changes the size cues of Big_Nose, Big_Lips, Narrow_Eyes or Chubby.
    augment: bool = option(False, help="Flip + crop augmentation.", check=IsBool(), fixed=True,
                           panel="Data")  # fmt: skip
    weights: str | None = option(None, help="Local pretrained state dict (nothing is "
                                 "downloaded).", fixed=True, panel="Model")  # fmt: skip
    checkpoint_every: int = option(50, help="Also checkpoint every N steps (mid-epoch resume).",
                                   check=Interval(int, 1), panel="Output")  # fmt: skip
    # --task identity (models/identity.py): embedding size and margin loss; margin None = the
    # loss's default (ArcFace 0.5 rad, CosFace 0.35). Scale 30, not the papers' 64: on the
    # validation split of 3,000 synthetic faces (6 epochs, 64 px) mAP@R was 0.577 vs 0.459.
    embedding_dim: int = option(128, help="--task identity: embedding size.",
                                check=Interval(int, 2), fixed=True, panel="Model")  # fmt: skip
    identity_loss: str = option("arcface", help="--task identity: the margin loss.",
                                check=OneOf(("arcface", "cosface")), fixed=True,
                                panel="Model")  # fmt: skip
    margin: float | None = option(
        None, check=Interval(float, 0), fixed=True, panel="Model",
        help="Margin: ArcFace radians (default 0.5), CosFace cosine (default 0.35).",
    )  # fmt: skip
    scale: float = option(30.0, help="Margin-loss logit scale.",
                          check=Interval(float, 0, strict=True), fixed=True,
                          panel="Model")  # fmt: skip
    # Execution settings: free to change on resume.
    devices: str | int | None = option(None, help="GPU count or ids '0,1'; >1 trains with DDP.",
                                       panel="Speed")  # fmt: skip
    precision: str | None = option(
        None, check=OneOf(PRECISIONS), panel="Speed",
        help="Numeric precision (16-mixed: GPU only); default: mixed on GPU, 32 on CPU.",
    )  # fmt: skip
    workers: int | None = option(None, help="DataLoader workers (default: 0 packed, a few for "
                                 "files).", check=Interval(int, 0), panel="Speed")  # fmt: skip
    threads: int | None = option(None, help="CPU threads for torch (default: all cores).",
                                 check=Interval(int, 1), panel="Speed")  # fmt: skip
    pack: bool = option(True, help="Build the packed cache when missing.", check=IsBool(),
                        panel="Data")  # fmt: skip


#: Options fixed once a run has started (changing them on ``--resume`` is refused).
FIXED_ON_RESUME: tuple[str, ...] = TrainConfig.fixed_on_resume()


def field_names() -> set[str]:
    """Names of every :class:`TrainConfig` option."""
    return {f.name for f in fields(TrainConfig)}


@dataclass(frozen=True, kw_only=True)
class EvaluateRunOptions(Options):
    """Settings of :func:`celebalab.models.evaluate_run` (``celebalab evaluate``)."""

    WHAT = "evaluation"

    split: str = option("test", help="Split to evaluate.", check=OneOf(SPLITS))
    root: str | None = option(None, help="Dataset root (default: the one recorded in run.json).")
    batch_size: int = option(256, help="Images per forward pass.", check=Interval(int, 1))
    device: str | None = option(None, help="torch device (default: cuda if available, else cpu).")
    workers: int | None = option(None, help="Decoding threads when no packed cache exists.",
                                 check=Interval(int, 0))  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class PredictOptions(Options):
    """Settings of :func:`celebalab.models.predict_paths` and of the table ``celebalab predict``
    prints (``top``, ``max_rows``)."""

    WHAT = "prediction"

    top: int = option(5, help="Attributes shown per image in the table.", check=Interval(int, 1))
    max_rows: int = option(50, help="Images shown in the table (0: all).", check=Interval(int, 0))
    batch_size: int = option(64, help="Images per forward pass.", check=Interval(int, 1))
    device: str | None = option(None, help="torch device (default: cuda if available, else cpu).")
    align: str = option(
        "auto", check=OneOf(DETECT_MODES),
        help="'auto': a 178×218 CelebA-aligned image is cropped as in training, any other "
        "photo is found by dlib's face detector and aligned onto CelebA's frame; 'always' / "
        "'never' force either.",
    )  # fmt: skip
    workers: int | None = option(
        None, help="Decoding threads (default: the CPU count, at most 8).",
        check=Interval(int, 0), cli=False,
    )  # fmt: skip
