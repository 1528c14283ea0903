"""The Lightning trainer of a run: checkpoints, early stopping, CSV log, progress, quiet banners.

Checkpoints go to ``RUN/checkpoints/``: the best epoch (validation loss), ``last.ckpt`` every
epoch, ``step.ckpt`` every N steps (mid-epoch resume). Lightning stores the absolute checkpoint
folder in each checkpoint and, when a run folder has been moved or copied, forgets the best score
and keeps pointing at the old folder's files: the resumed run then keeps another epoch as "best"
and may even load weights from the original folder. :class:`RelocatableCheckpoint` rebases
those paths onto the folder the run lives in now, so a moved run resumes exactly.
"""

from __future__ import annotations

import csv
import logging
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint

from celebalab import _progress, stopping
from celebalab.models import run as runfmt
from celebalab.models.config import TrainConfig
from celebalab.runtime import TrainingDevices

log = logging.getLogger(__name__)

STEP_CHECKPOINT = "step"


class RelocatableCheckpoint(ModelCheckpoint):
    """A ``ModelCheckpoint`` whose saved state follows the run folder when it moves."""

    _PATH_KEYS = ("best_model_path", "kth_best_model_path", "last_model_path")

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Rebase the saved paths from the folder they were written in onto ``self.dirpath``."""
        saved = state_dict.get("dirpath")
        if saved and self.dirpath and os.path.normpath(saved) != os.path.normpath(self.dirpath):
            state_dict = dict(state_dict, dirpath=self.dirpath)
            for key in self._PATH_KEYS:
                if state_dict.get(key):
                    state_dict[key] = self._rebased(state_dict[key])
            if isinstance(state_dict.get("best_k_models"), dict):
                state_dict["best_k_models"] = {
                    self._rebased(p): v for p, v in state_dict["best_k_models"].items()
                }
        super().load_state_dict(state_dict)

    def _rebased(self, path: str) -> str:
        return os.path.join(str(self.dirpath), os.path.basename(path))


class StopOnSignal(Callback):
    """Ends training at a batch's end once Ctrl-C or SIGTERM was noted (see
    :mod:`celebalab.stopping`): after a training batch, ``step.ckpt`` is saved at that step
    first, so ``--resume`` repeats nothing; during validation it stops at once (the resume starts
    from the latest checkpoint)."""

    def __init__(self, step_checkpoint: Path) -> None:
        self.step_checkpoint = step_checkpoint

    def on_train_batch_end(self, trainer: pl.Trainer, *_args: Any) -> None:
        """Checkpoint this step, then stop, when a signal was noted."""
        if stopping.requested():
            trainer.save_checkpoint(self.step_checkpoint)
            stopping.check()

    def on_validation_batch_end(self, trainer: pl.Trainer, *_args: Any) -> None:
        """Stop when a signal was noted."""
        stopping.check()


class EpochLines(Callback):
    """One progress line per epoch (for logs and the demo, where bars are noise)."""

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Print the epoch number and the logged losses and validation balanced accuracy."""
        if not trainer.is_global_zero:
            return
        metrics = trainer.callback_metrics
        shown = [(k, metrics[k]) for k in ("train_loss_epoch", "val_loss", "val_bal_acc")
                 if k in metrics]  # fmt: skip
        figures = ", ".join(f"{k.removesuffix('_epoch')} {float(v):.4f}" for k, v in shown)
        log.info("epoch %d/%d: %s", trainer.current_epoch + 1, trainer.max_epochs, figures)


class _LightningNoise(logging.Filter):
    """Drops Lightning's per-run banner lines (device availability, advertising tip)."""

    PREFIXES = ("GPU available:", "TPU available:", "💡 Tip:")

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.PREFIXES)


_NOISE_FILTER = _LightningNoise()


def silence_lightning_noise() -> None:
    """Hide the messages Lightning prints on every run that say nothing about this one.

    Targeted: only these exact messages; every other warning and log line still shows.
    """
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
        logging.getLogger(name).addFilter(_NOISE_FILTER)  # adding the same filter twice is a no-op
    # torch deprecated LeafSpec, which Lightning's own _pytree helper still builds.
    warnings.filterwarnings(
        "ignore",
        message=r"`isinstance\(treespec, LeafSpec\)` is deprecated",
        category=FutureWarning,
    )
    # Expected: only a resumed run (or --overwrite, which cleared it) finds checkpoints there.
    warnings.filterwarnings("ignore", message=r"Checkpoint directory .* exists and is not empty")


def make_trainer(
    out: Path,
    config: TrainConfig,
    devices: TrainingDevices,
    callbacks: Sequence[Any],
    batches_per_epoch: int,
    resume_step: int | None = None,
) -> tuple[pl.Trainer, ModelCheckpoint]:
    """Lightning trainer with the checkpoints, early stopping and CSV log of a run.

    Progress (:mod:`celebalab._progress`): Lightning's bar when bars show, else one line per
    epoch when progress lines show, else nothing. ``resume_step`` (global step of the
    checkpoint a resumed run starts from) keeps the log rows written before it. Returns the
    trainer and the best-checkpoint callback.
    """
    from lightning.pytorch.callbacks import TQDMProgressBar
    from lightning.pytorch.loggers import CSVLogger

    ckpt_dir = out / runfmt.CHECKPOINT_DIR
    # Per epoch: the best model (val loss) and last.ckpt, a callback of its own (Lightning's
    # save_last only writes when the best one changed); every N steps: step.ckpt (mid-epoch).
    best = RelocatableCheckpoint(
        dirpath=ckpt_dir, filename="best-epoch={epoch:03d}-val_loss={val_loss:.4f}",
        auto_insert_metric_name=False, monitor="val_loss", mode="min", save_top_k=1,
    )  # fmt: skip
    last = RelocatableCheckpoint(
        dirpath=ckpt_dir, filename="last", save_top_k=1, enable_version_counter=False
    )
    steps = RelocatableCheckpoint(
        dirpath=ckpt_dir, filename=STEP_CHECKPOINT, save_top_k=1,
        every_n_train_steps=config.checkpoint_every,
    )  # fmt: skip
    cbs: list[Any] = [best, last, steps, EarlyStopping("val_loss", patience=config.patience),
                      StopOnSignal(ckpt_dir / f"{STEP_CHECKPOINT}.ckpt")]  # fmt: skip
    if _progress.bars_shown():
        cbs.append(TQDMProgressBar(refresh_rate=10))
    elif _progress.showing():
        cbs.append(EpochLines())
    logger = CSVLogger(out, name="logs", version="")
    if resume_step is not None:
        keep_logged_rows(logger, resume_step)
    trainer = pl.Trainer(
        default_root_dir=out,
        accelerator=devices.accelerator,
        devices=devices.devices,
        strategy=devices.strategy,
        precision=devices.precision,
        max_epochs=config.epochs,
        callbacks=[*cbs, *callbacks],
        logger=logger,
        log_every_n_steps=max(1, min(10, batches_per_epoch)),
        enable_progress_bar=_progress.bars_shown(),
        enable_model_summary=False,
        use_distributed_sampler=False,
        benchmark=devices.gpu,
        num_sanity_val_steps=0,
    )
    return trainer, best


def keep_logged_rows(logger: Any, before_step: int) -> None:
    """Keep the CSV log rows of the steps before ``before_step`` across a resume.

    Lightning's CSV writer deletes the metrics file of an existing log folder when it opens it;
    the rows a resumed run will not repeat are written back and their columns declared to the
    writer, so that the log still covers the whole run.
    """
    from lightning.pytorch.loggers.csv_logs import ExperimentWriter

    path = Path(logger.log_dir) / ExperimentWriter.NAME_METRICS_FILE
    columns: list[str] = []
    rows: list[dict[str, str]] = []
    if path.is_file():
        with path.open(newline="", encoding="utf-8") as file:
            reader = csv.DictReader(file)
            columns = sorted(reader.fieldnames or [])
            rows = [r for r in reader if r.get("step", "").isdigit()]
    rows = [r for r in rows if int(r["step"]) < before_step]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Experiment logs directory .* is not empty")
        writer = logger.experiment  # deletes the metrics file
    if not rows or not isinstance(writer, ExperimentWriter):  # nothing kept, or not rank 0
        return
    with path.open("w", newline="", encoding="utf-8") as file:
        out = csv.DictWriter(file, fieldnames=columns)
        out.writeheader()
        out.writerows(rows)
    writer.metrics_keys = list(columns)
