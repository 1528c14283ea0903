"""``celebalab train``: one call from a dataset root to a self-describing run directory.

The flow, one module per job: options become a validated :class:`~celebalab.models.config.
TrainConfig` (never train into a non-empty directory unless ``resume``/``overwrite``); the task
(:mod:`celebalab.models._tasks`, chosen by ``config.task``) names the outputs and targets;
:mod:`~celebalab.models._prepare` reads the table, opens or builds the packed cache and splits
the data; :mod:`~celebalab.models._trainer` fits with Lightning (checkpoints every epoch and every
``checkpoint_every`` steps, early stopping, CSV log); :mod:`~celebalab.models._finish` runs the
task's finishing step and writes ``run.json`` + ``model.pt`` (see :mod:`celebalab.models.run`).

On ``resume`` the config saved in ``RUN_DIR/train_options.json`` is reused; an option given
explicitly must agree with the saved one (:data:`~celebalab.models.config.FIXED_ON_RESUME`),
except ``epochs`` (to train longer) and the execution settings (devices, precision, workers).
A run folder may be moved or copied between interruption and resume: the result is the same.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from celebalab import _progress, stopping
from celebalab.errors import CelebalabError
from celebalab.io import read_json_object
from celebalab.models import run as runfmt
from celebalab.models.config import FIXED_ON_RESUME, TrainConfig, field_names
from celebalab.models.records import ClassifierRun
from celebalab.rundir import RunOutput, open_output, writing
from celebalab.runtime import training_devices

OPTIONS_FILE = runfmt.OPTIONS_FILE
#: The default of every option (what ``celebalab train --help`` quotes).
DEFAULTS: dict[str, Any] = TrainConfig().to_dict()


class TrainError(CelebalabError):
    """Training cannot start (bad option, run directory in the way, unusable checkpoint)."""


@_progress.legacy_progress
def train(
    root: str | Path,
    out: str | Path,
    *,
    resume: bool = False,
    overwrite: bool = False,
    callbacks: Sequence[Any] = (),
    **options: Any,
) -> ClassifierRun | None:
    """Train a model on ``root`` into the run directory ``out``; return its ``run.json`` record
    (None in the non-zero ranks of a multi-GPU run).

    ``options`` are :class:`TrainConfig` fields (``task``, ``arch``, ``size``, ``epochs``, …);
    ``None`` takes the default (or, on ``resume``, the value the run started with).
    Progress shows as :mod:`celebalab._progress` says (a bar, or one line per epoch).
    ``callbacks`` are extra Lightning callbacks (e.g. for tests or custom logging).
    ``overwrite`` trains beside a finished run in ``out`` and replaces it (its own files only)
    when the new one is complete; ``resume`` continues such an interrupted overwrite first
    (:mod:`celebalab.rundir`).
    """
    output = open_output(
        out, runfmt.MODEL_RUN, overwrite=overwrite, resume=resume,
        hint="use --resume to continue the run in it or --overwrite to replace it",
    )  # fmt: skip
    config = resolve_config(output.path, root, options, resume)
    return train_config(config, output, resume=resume, callbacks=callbacks)


def train_config(
    config: TrainConfig,
    output: RunOutput,
    *,
    resume: bool = False,
    callbacks: Sequence[Any] = (),
) -> ClassifierRun | None:
    """Run the training described by ``config`` into ``output`` (see :func:`train`); the run
    is committed to its folder when finished, and kept for ``--resume`` when stopped."""
    with writing(output, keep=True):
        return _train_into(output.path, config, resume, callbacks)


def _train_into(
    out: Path, config: TrainConfig, resume: bool, callbacks: Sequence[Any]
) -> ClassifierRun | None:
    from celebalab.models._registry import get_task

    task = get_task(config)
    task.output_names()  # an unknown task fails here, before anything else
    # Read the checkpoint first: a corrupt one must fail before anything in ``out`` changes.
    ckpt_path, steps_before = _resume_checkpoint(out, config) if resume else (None, 0)
    devices = training_devices(config.devices, config.precision)
    _set_threads(config.threads)

    import lightning.pytorch as pl  # only now: importing Lightning takes seconds
    from lightning.pytorch.utilities.exceptions import SIGTERMException

    from celebalab.models._finish import finish_run
    from celebalab.models._prepare import prepare_data
    from celebalab.models._trainer import make_trainer, silence_lightning_noise

    silence_lightning_noise()
    pl.seed_everything(config.seed, workers=True, verbose=False)
    data = prepare_data(config, task, devices)
    for note in data.splits.notes:
        _say(f"note: {note}")
    batches = _batches_per_epoch(config, data.splits.counts["train"], devices.num_devices)
    module = task.build_module(data.splits, data.targets, config.epochs * batches)
    if config.weights:
        _load_weights(module.model, config.weights)
    if not resume:
        config.save(out / OPTIONS_FILE)
    trainer, best = make_trainer(
        out, config, devices, callbacks, batches, steps_before if resume else None
    )
    t0 = time.perf_counter()
    with stopping.deferred():  # Ctrl-C / SIGTERM: at a batch's end, after a checkpoint
        try:
            trainer.fit(module, datamodule=data.module, ckpt_path=ckpt_path)
        except SIGTERMException:  # Lightning's own SIGTERM stop, should it come first
            raise stopping.Stopped(signal.SIGTERM) from None
    seconds = time.perf_counter() - t0
    if not trainer.is_global_zero:
        return None
    # Images trained by this call (the last batch of an epoch may be smaller: an upper bound).
    images = (trainer.global_step - steps_before) * config.batch_size * trainer.world_size
    return finish_run(out, config, task, data, module, trainer, best, devices, seconds, images)


# ---------------------------------------------------------------- options and run directory


def resolve_config(
    out: Path, root: str | Path, options: dict[str, Any], resume: bool
) -> TrainConfig:
    """Defaults (fresh run) or the saved config (resume, from ``out``) completed by the options
    given; whether ``out`` may be written is :func:`celebalab.rundir.open_output`'s call."""
    unknown = sorted(set(options) - field_names())
    if unknown:
        raise TypeError(f"train() got unknown option(s) {', '.join(unknown)}")
    given = {k: v for k, v in options.items() if v is not None}
    given["root"] = str(Path(root).resolve())
    if given.get("weights"):
        given["weights"] = str(Path(given["weights"]).resolve())
    if not resume:
        return TrainConfig(**given)
    saved_path = out / OPTIONS_FILE
    if not saved_path.is_file():
        raise TrainError(f"{saved_path}: missing; {out} holds no run to resume")
    saved = TrainConfig.load(saved_path)
    for key in FIXED_ON_RESUME:
        if key in given and getattr(saved, key) != given[key]:
            raise TrainError(
                f"{saved_path}: the run was started with {key}={getattr(saved, key)!r}; "
                f"cannot resume it with {key}={given[key]!r}"
            )
    return saved.replace(**given)


def _resume_checkpoint(out: Path, config: TrainConfig) -> tuple[str, int]:
    """The most advanced of ``last.ckpt`` (epoch ends) and ``step.ckpt`` (every N steps).

    Returns its path and global step. A corrupt candidate is an error naming it (never
    silently skipped): the user decides whether to delete it and fall back to the other. A
    finished run is an error too, unless ``--epochs`` asks for more epochs than it had.
    """
    from celebalab.models._trainer import STEP_CHECKPOINT

    _check_unfinished(out, config.epochs)
    ckpt_dir = out / runfmt.CHECKPOINT_DIR
    found: list[tuple[int, int, str]] = []
    for rank, name in enumerate(("last.ckpt", f"{STEP_CHECKPOINT}.ckpt")):
        path = ckpt_dir / name
        if not path.is_file():
            continue
        try:
            ckpt = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as err:
            reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
            raise TrainError(
                f"{path}: corrupt checkpoint ({reason}); delete it to resume from the other "
                "checkpoint in that folder, or start over with --overwrite"
            ) from None
        if not isinstance(ckpt, dict) or "state_dict" not in ckpt or "loops" not in ckpt:
            raise TrainError(f"{path}: not a Lightning training checkpoint")
        found.append((int(ckpt.get("global_step", 0)), -rank, str(path)))
    if not found:
        raise TrainError(f"{ckpt_dir}: no checkpoint to resume from")
    step, _, path = max(found)
    return path, step


def _check_unfinished(out: Path, epochs: int) -> None:
    """Refuse to "resume" a finished run (which would only rewrite it) unless it is extended."""
    path = out / runfmt.RUN_JSON
    if not path.is_file():
        return
    try:
        training = ClassifierRun.from_json(read_json_object(path, "run file"), path).training
    except CelebalabError:
        return  # not a run we can read: resume from the checkpoints as for an unfinished one
    if training is None:
        return
    planned, done = training.epochs, training.epochs_run
    if epochs <= planned:
        raise TrainError(
            f"{path}: the run already finished ({done} of {planned} epochs), nothing to resume; "
            f"pass --epochs N with N > {planned} to train it longer"
        )


# ---------------------------------------------------------------- execution


def _set_threads(threads: int | None) -> None:
    """Intra-op threads: ``threads``, else every core this process may run on.

    On a machine shared with other busy processes, fewer threads than cores is faster (spinning
    OpenMP threads fight for the cores): that is what ``threads`` is for.
    """
    if threads is None:
        try:
            threads = len(os.sched_getaffinity(0))
        except AttributeError:  # not on Linux
            threads = os.cpu_count() or 1
    torch.set_num_threads(threads)


def _batches_per_epoch(config: TrainConfig, train_images: int, num_devices: int) -> int:
    """Optimizer steps per epoch on each device (the one epoch order's batch count)."""
    from celebalab.datasets.order import batches_per_epoch

    return batches_per_epoch(train_images, config.batch_size, num_devices)


def _load_weights(model: torch.nn.Module, weights: str) -> None:
    """Load a local state dict into ``model`` and say what was (not) used."""
    from celebalab.models.architectures import load_pretrained

    missing, unused = load_pretrained(model, weights)
    total = len(model.state_dict())
    _say(f"loaded {weights}: {total - len(missing)} of {total} tensors; new initialisation for "
         f"{_listed(missing)} (absent from the file or of another shape, e.g. the ImageNet "
         f"head); {len(unused)} tensor(s) of the file unused")  # fmt: skip


def _listed(names: Sequence[str], shown: int = 4) -> str:
    return ", ".join(names[:shown]) + (" …" if len(names) > shown else "") if names else "none"


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
