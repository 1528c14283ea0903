"""``celebalab train``: one call from a dataset root to a self-describing run directory.

Steps: check options and the run directory (never train into a non-empty one unless
``resume``/``overwrite``), read the metadata table and the split, open the packed cache
(building it when ``pack`` is on, the default: decoding once is paid back within the first
epoch), fit with Lightning (checkpoints every epoch and every ``checkpoint_every`` steps, early
stopping on validation loss, CSV log), then tune per-attribute thresholds on the validation
split and write ``run.json`` + ``model.pt`` (see :mod:`celebalab.models.run`).

On ``resume`` the options saved in ``RUN_DIR/train_options.json`` are reused; an option given
explicitly must agree with the saved one, except ``epochs`` (to train longer) and the
execution settings (devices, precision, workers).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from celebalab.datasets.decode import CROPS
from celebalab.datasets.schema import ATTRIBUTE_NAMES, attribute_index
from celebalab.errors import CelebalabError
from celebalab.io import write_json_atomic
from celebalab.models import run as runfmt
from celebalab.models.architectures import (
    ARCHITECTURES,
    IMAGENET_MEAN,
    IMAGENET_STD,
    build_model,
    load_pretrained,
)
from celebalab.models.thresholds import THRESHOLD_METRICS, tune_thresholds
from celebalab.runtime import SPLITS

OPTIONS_FILE = "train_options.json"
STEP_CHECKPOINT = "step"
#: Options that define the experiment: fixed once a run has started.
_FIXED_ON_RESUME = (
    "task", "arch", "size", "batch_size", "lr", "loss", "pos_weight", "focal_gamma", "seed",
    "threshold_metric", "augment", "weights", "root", "crop",
)  # fmt: skip
DEFAULTS: dict[str, Any] = {
    "task": "attributes",
    "arch": "small_cnn",
    "size": 128,
    "crop": "center",
    "epochs": 10,
    "batch_size": 128,
    "lr": 3e-3,
    "loss": "bce",
    "pos_weight": True,
    "focal_gamma": 2.0,
    "patience": 3,
    "threshold_metric": "balanced_accuracy",
    "seed": 0,
    # Off by default: short runs on aligned faces under-fit rather than over-fit, and zooming
    # changes the size cues of Big_Nose, Big_Lips, Narrow_Eyes or Chubby.
    "augment": False,
    "weights": None,
    "checkpoint_every": 50,
}
_OUR_OUTPUTS = (
    runfmt.RUN_JSON, runfmt.MODEL_FILE, runfmt.METRICS_CSV, runfmt.CHECKPOINT_DIR, "logs",
    OPTIONS_FILE,
)  # fmt: skip


class TrainError(CelebalabError):
    """Training cannot start (bad option, run directory in the way, unusable checkpoint)."""


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class _LightningNoise(logging.Filter):
    """Drops Lightning's per-run banner lines (device availability, advertising tip)."""

    PREFIXES = ("GPU available:", "TPU available:", "💡 Tip:")

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.PREFIXES)


_NOISE_FILTER = _LightningNoise()


def _silence_lightning_noise() -> None:
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


def train(
    root: str | Path,
    out: str | Path,
    task: str | None = None,
    arch: str | None = None,
    size: int | None = None,
    crop: str | None = None,
    epochs: int | None = None,
    batch_size: int | None = None,
    devices: str | int | None = None,
    precision: str | None = None,
    weights: str | Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
    *,
    lr: float | None = None,
    loss: str | None = None,
    pos_weight: bool | None = None,
    focal_gamma: float | None = None,
    patience: int | None = None,
    threshold_metric: str | None = None,
    seed: int | None = None,
    augment: bool | None = None,
    checkpoint_every: int | None = None,
    workers: int | None = None,
    threads: int | None = None,
    pack: bool = True,
    progress: bool = True,
    callbacks: Sequence[Any] = (),
) -> dict[str, Any]:
    """Train a classifier on ``root`` into the run directory ``out``; return its ``run.json``.

    ``None`` options take their default (or, on ``resume``, the value the run started with).
    ``callbacks`` are extra Lightning callbacks (e.g. for tests or custom logging).
    """
    out = Path(out)
    given = {
        "root": str(Path(root).resolve()), "task": task, "arch": arch, "size": size, "crop": crop,
        "epochs": epochs, "batch_size": batch_size, "lr": lr, "loss": loss,
        "pos_weight": pos_weight, "focal_gamma": focal_gamma, "patience": patience,
        "threshold_metric": threshold_metric, "seed": seed, "augment": augment,
        "weights": str(Path(weights).resolve()) if weights else None,
        "checkpoint_every": checkpoint_every,
    }  # fmt: skip
    opts = _resolve_options(out, given, resume, overwrite)
    names = _attribute_names(opts["task"])
    # Read the checkpoint first: a corrupt one must fail before anything in ``out`` changes.
    ckpt_path, steps_before = _resume_checkpoint(out, opts) if resume else (None, 0)
    device = _device_settings(devices, precision)
    _set_threads(threads)

    import lightning.pytorch as pl

    _silence_lightning_noise()
    pl.seed_everything(opts["seed"], workers=True, verbose=False)
    table, splits, data = _prepare_data(Path(root), opts, names, device, workers, pack, progress)
    for note in splits.notes:
        _say(f"note: {note}")
    batches = _batches_per_epoch(opts, splits, device)
    module = _make_module(opts, names, splits, device, opts["epochs"] * batches)
    if not resume:
        if overwrite:  # only now that every input has been checked
            _remove_outputs(out)
        write_json_atomic(out / OPTIONS_FILE, opts)
    trainer, ckpt_best = _make_trainer(
        out, opts, device, progress, callbacks, batches, steps_before if resume else None
    )
    t0 = time.perf_counter()
    trainer.fit(module, datamodule=data, ckpt_path=ckpt_path)
    seconds = time.perf_counter() - t0
    if not trainer.is_global_zero:
        return {}
    # Images trained by this call (the last batch of an epoch may be smaller: an upper bound).
    images = (trainer.global_step - steps_before) * opts["batch_size"] * trainer.world_size
    return _finish_run(
        out, opts, names, table, splits, data, module, trainer, ckpt_best, device, seconds, images
    )


# ---------------------------------------------------------------- options and run directory


def _resolve_options(out: Path, given: dict[str, Any], resume: bool, overwrite: bool) -> dict:
    """Defaults (fresh run) or saved options (resume) completed by the options given."""
    if resume and overwrite:
        raise TrainError("--resume and --overwrite exclude each other")
    if resume:
        saved_path = out / OPTIONS_FILE
        if not saved_path.is_file():
            raise TrainError(f"{saved_path}: missing; {out} holds no run to resume")
        try:
            saved = json.loads(saved_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise TrainError(f"{saved_path}: unreadable options file ({err})") from None
        for key in _FIXED_ON_RESUME:
            if given.get(key) is not None and saved.get(key) != given[key]:
                raise TrainError(
                    f"{saved_path}: the run was started with {key}={saved.get(key)!r}; "
                    f"cannot resume it with {key}={given[key]!r}"
                )
        opts = {**saved, **{k: v for k, v in given.items() if v is not None}}
    else:
        if out.exists() and not out.is_dir():
            raise TrainError(f"{out}: exists and is not a directory")
        if out.is_dir() and any(out.iterdir()) and not overwrite:
            raise TrainError(
                f"{out}: run directory is not empty; use --resume to continue the run in it "
                "or --overwrite to replace it"
            )
        opts = {**DEFAULTS, **{k: v for k, v in given.items() if v is not None}}
    _check_options(opts)
    return opts


def _remove_outputs(out: Path) -> None:
    """Delete only the files celebalab writes into a run directory (evaluations included)."""
    for name in (*_OUR_OUTPUTS, *(f"eval_{split}" for split in SPLITS)):
        path = out / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def _check_options(opts: dict[str, Any]) -> None:
    if opts["arch"] not in ARCHITECTURES:
        build_model(opts["arch"], 1)  # raises the "did you mean" error
    checks = {
        "size": opts["size"] >= 16,
        "epochs": opts["epochs"] >= 1,
        "batch_size": opts["batch_size"] >= 1,
        "lr": opts["lr"] > 0,
        "patience": opts["patience"] >= 0,
        "checkpoint_every": opts["checkpoint_every"] >= 1,
    }
    for key, ok in checks.items():
        if not ok:
            raise TrainError(f"--{key.replace('_', '-')} {opts[key]!r} is out of range")
    if opts["crop"] not in CROPS:
        raise TrainError(f"--crop must be one of {', '.join(CROPS)}, not {opts['crop']!r}")
    from celebalab.models.module import LOSSES

    if opts["loss"] not in LOSSES:
        raise TrainError(f"--loss must be one of {', '.join(LOSSES)}, not {opts['loss']!r}")
    if opts["threshold_metric"] not in THRESHOLD_METRICS:
        raise TrainError(
            f"--threshold-metric must be one of {', '.join(THRESHOLD_METRICS)}, "
            f"not {opts['threshold_metric']!r}"
        )


def _attribute_names(task: str) -> list[str]:
    if task == "attributes":
        return list(ATTRIBUTE_NAMES)
    try:
        attribute_index(task)
    except KeyError as err:
        raise TrainError(f"--task: {err.args[0]} (or 'attributes' for all 40)") from None
    return [task]


def _resume_checkpoint(out: Path, opts: dict[str, Any]) -> tuple[str, int]:
    """The most advanced of ``last.ckpt`` (epoch ends) and ``step.ckpt`` (every N steps).

    Returns its path and global step. A corrupt candidate is an error naming it (never
    silently skipped): the user decides whether to delete it and fall back to the other. A
    finished run is an error too, unless ``--epochs`` asks for more epochs than it had.
    """
    _check_unfinished(out, opts["epochs"])
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
        training = json.loads(path.read_text(encoding="utf-8"))["training"]
        planned, done = int(training["epochs"]), int(training["epochs_run"])
    except (OSError, ValueError, KeyError, TypeError):
        return  # not a run we can read: resume from the checkpoints as for an unfinished one
    if epochs <= planned:
        raise TrainError(
            f"{path}: the run already finished ({done} of {planned} epochs), nothing to resume; "
            f"pass --epochs N with N > {planned} to train it longer"
        )


# ---------------------------------------------------------------- devices


def _device_settings(devices: str | int | None, precision: str | None) -> dict[str, Any]:
    """Accelerator, devices, strategy and precision; mixed fp16 only on GPU (notes otherwise)."""
    gpu = torch.cuda.is_available()
    if devices in (None, "auto"):
        count: Any = 1
    elif isinstance(devices, int) or str(devices).isdigit():
        count = int(devices)
    else:
        count = [int(d) for d in str(devices).split(",") if d.strip()]
    n = len(count) if isinstance(count, list) else count
    if n < 1:
        raise TrainError(f"--devices {devices!r}: need at least one device")
    if not gpu:
        if n > 1:
            _say(f"note: --devices {devices} asks for several GPUs but none is available; "
                 "training on the CPU")  # fmt: skip
        count, n = 1, 1
    if precision is None:
        if gpu:
            precision = "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
        else:
            precision = "32-true"
    allowed = ("32-true", "32", "16-mixed", "bf16-mixed")
    if precision not in allowed:
        raise TrainError(f"--precision must be one of {', '.join(allowed)}, not {precision!r}")
    if precision == "32":
        precision = "32-true"
    if precision == "16-mixed" and not gpu:
        _say("note: 16-mixed precision needs a GPU; training in 32-bit on the CPU")
        precision = "32-true"
    return {
        "accelerator": "gpu" if gpu else "cpu",
        "devices": count,
        "num_devices": n,
        "strategy": "ddp" if gpu and n > 1 else "auto",
        "precision": precision,
        "gpu": gpu,
    }


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
    torch.set_num_threads(max(1, threads))


# ---------------------------------------------------------------- data and model


def _prepare_data(
    root: Path,
    opts: dict[str, Any],
    names: list[str],
    device: dict[str, Any],
    workers: int | None,
    pack: bool,
    progress: bool,
) -> tuple[Any, Any, Any]:
    """Metadata, splits and the data module (packed cache, built if needed, or files)."""
    from celebalab.datasets.packed import PackedImages, pack_images
    from celebalab.datasets.table import load_table
    from celebalab.models.data import (
        AttributeDataModule,
        BatchImages,
        FileSource,
        PackedSource,
        make_splits,
    )

    table = load_table(root)
    size, crop = opts["size"], opts["crop"]
    ids = table["image_id"].astype(str).tolist()
    packed = PackedImages.open(root, size, crop, image_ids=ids)
    if packed is None and pack:
        _say(f"packing the images at {size} px once (reused by later runs)…")
        pack_images(root, size, crop, progress=progress)
        packed = PackedImages.open(root, size, crop, image_ids=ids)
    if packed is not None:
        source: Any = PackedSource(packed.images)
        valid, kind, default_workers = packed.valid, "packed", 0
    else:
        _say("note: no packed cache; decoding image files every epoch (run `celebalab data pack`)")
        source = FileSource(table.attrs["image_dir"], ids, size, crop)
        valid, kind = None, "files"
        default_workers = min(4, max(1, (os.cpu_count() or 2) - 1))
    splits = make_splits(table, names, opts["seed"], valid=valid)
    empty = [s for s in ("train", "val") if splits.counts[s] == 0]
    if empty:
        raise TrainError(f"{root}: the {' and '.join(empty)} split has no images")
    datasets = {s: BatchImages(source, splits.rows[s], splits.labels) for s in splits.rows}
    data = AttributeDataModule(
        datasets,
        batch_size=opts["batch_size"],
        seed=opts["seed"],
        workers=default_workers if workers is None else workers,
        pin_memory=device["gpu"],
    )
    data.source_kind = kind
    return table, splits, data


def _batches_per_epoch(opts: dict, splits: Any, device: dict) -> int:
    """Optimizer steps per epoch on each device (the last batch may be smaller)."""
    per_device = -(-splits.counts["train"] // device["num_devices"])
    return -(-per_device // opts["batch_size"])


def _make_module(opts: dict, names: list[str], splits: Any, device: dict, steps: int) -> Any:
    from celebalab.models.data import positive_weights
    from celebalab.models.module import AttributeClassifier

    weights = None
    if opts["pos_weight"]:
        weights = positive_weights(splits.labels[splits.rows["train"]]).tolist()
    module = AttributeClassifier(
        opts["arch"],
        names,
        IMAGENET_MEAN,
        IMAGENET_STD,
        lr=opts["lr"],
        pos_weight=weights,
        focal_gamma=opts["focal_gamma"] if opts["loss"] == "focal" else 0.0,
        augment=opts["augment"],
        seed=opts["seed"],
        channels_last=True,  # faster convolutions on GPUs and on CPUs alike
        total_steps=steps,
    )
    if opts["weights"]:
        missing, unused = load_pretrained(module.model, opts["weights"])
        total = len(module.model.state_dict())
        _say(f"loaded {opts['weights']}: {total - len(missing)} of {total} tensors; new "
             f"initialisation for {_listed(missing)} (absent from the file or of another shape, "
             f"e.g. the ImageNet head); {len(unused)} tensor(s) of the file unused")  # fmt: skip
    return module


def _listed(names: Sequence[str], shown: int = 4) -> str:
    return ", ".join(names[:shown]) + (" …" if len(names) > shown else "") if names else "none"


def _make_trainer(
    out: Path,
    opts: dict,
    device: dict,
    progress: bool,
    callbacks: Sequence[Any],
    batches_per_epoch: int,
    resume_step: int | None = None,
) -> tuple[Any, Any]:
    """Lightning trainer with the checkpoints, early stopping and CSV log of a run.

    ``resume_step`` (global step of the checkpoint a resumed run starts from) keeps the log
    rows written before it.
    """
    import lightning.pytorch as pl
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint, TQDMProgressBar
    from lightning.pytorch.loggers import CSVLogger

    ckpt_dir = out / runfmt.CHECKPOINT_DIR
    # Per epoch: the best model (val loss) and last.ckpt, a callback of its own (Lightning's
    # save_last only writes when the best one changed); every N steps: step.ckpt (mid-epoch).
    best = ModelCheckpoint(
        dirpath=ckpt_dir, filename="best-epoch={epoch:03d}-val_loss={val_loss:.4f}",
        auto_insert_metric_name=False, monitor="val_loss", mode="min", save_top_k=1,
    )  # fmt: skip
    last = ModelCheckpoint(
        dirpath=ckpt_dir, filename="last", save_top_k=1, enable_version_counter=False
    )
    steps = ModelCheckpoint(
        dirpath=ckpt_dir, filename=STEP_CHECKPOINT, save_top_k=1,
        every_n_train_steps=opts["checkpoint_every"],
    )  # fmt: skip
    cbs: list[Any] = [best, last, steps, EarlyStopping("val_loss", patience=opts["patience"])]
    if progress:
        cbs.append(TQDMProgressBar(refresh_rate=10))
    logger = CSVLogger(out, name="logs", version="")
    if resume_step is not None:
        _keep_logged_rows(logger, resume_step)
    trainer = pl.Trainer(
        default_root_dir=out,
        accelerator=device["accelerator"],
        devices=device["devices"],
        strategy=device["strategy"],
        precision=device["precision"],
        max_epochs=opts["epochs"],
        callbacks=[*cbs, *callbacks],
        logger=logger,
        log_every_n_steps=max(1, min(10, batches_per_epoch)),
        enable_progress_bar=progress,
        enable_model_summary=False,
        use_distributed_sampler=False,
        benchmark=device["gpu"],
        num_sanity_val_steps=0,
    )
    return trainer, best


def _keep_logged_rows(logger: Any, before_step: int) -> None:
    """Keep the CSV log rows of the steps before ``before_step`` across a resume.

    Lightning's CSV writer deletes the metrics file of an existing log folder when it opens it;
    the rows a resumed run will not repeat are written back and their columns declared to the
    writer, so that the log still covers the whole run.
    """
    import csv

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


# ---------------------------------------------------------------- after training


def _finish_run(
    out: Path, opts: dict, names: list[str], table: Any, splits: Any, data: Any, module: Any,
    trainer: Any, best: Any, device: dict, seconds: float, images: int,
) -> dict[str, Any]:  # fmt: skip
    """Best weights → thresholds on val → metrics → run.json, model.pt, metrics.csv."""
    from celebalab.models.data import data_fingerprint
    from celebalab.models.inference import iter_split_batches, predict_probabilities
    from celebalab.models.metrics import attribute_metrics, headline

    if best.best_model_path:
        state = torch.load(best.best_model_path, map_location="cpu", weights_only=False)
        module.load_state_dict(state["state_dict"])
    dev = torch.device("cuda" if device["gpu"] else "cpu")
    trained = runfmt.LoadedRun(
        run_dir=out, config=_model_config(opts, names), model=module.model.to(dev),
        attribute_names=names, image_size=opts["size"],
    )  # fmt: skip
    val_rows = iter_split_batches(
        trained, opts["root"], rows=splits.rows["val"], batch_size=opts["batch_size"]
    )
    kept, probs = predict_probabilities(trained, val_rows)
    y_val = splits.labels[kept]
    thresholds = tune_thresholds(y_val, probs, opts["threshold_metric"])
    train_prev = splits.labels[splits.rows["train"]].mean(axis=0)
    per_attr = attribute_metrics(y_val, probs, thresholds, names, train_prevalence=train_prev)
    at_half = headline(attribute_metrics(y_val, probs, np.full(len(names), 0.5), names))
    val = {
        **headline(per_attr),
        "mean_balanced_accuracy_at_0.5": at_half["mean_balanced_accuracy"],
        "loss": _metric(trainer, "val_loss"),
        "per_attribute": per_attr[
            ["balanced_accuracy", "accuracy", "f1", "roc_auc", "threshold", "prevalence"]
        ].to_dict(orient="index"),
    }
    config = {
        **_model_config(opts, names),
        "thresholds": dict(zip(names, map(float, thresholds), strict=True)),
        "threshold_metric": opts["threshold_metric"],
        "data": {
            "root": opts["root"],
            "dataset": table.attrs.get("dataset"),
            "layout": table.attrs.get("layout"),
            "fingerprint": data_fingerprint(table, names),
            "counts": splits.counts,
            "partition_source": splits.partition_source,
            "source": data.source_kind,
            "notes": splits.notes,
        },
        "training": {
            "epochs": opts["epochs"],
            "epochs_run": trainer.current_epoch,
            "global_step": trainer.global_step,
            "batch_size": opts["batch_size"],
            "lr": opts["lr"],
            "optimizer": "AdamW + one-cycle",
            "precision": device["precision"],
            "devices": device["num_devices"],
            "accelerator": device["accelerator"],
            "loss": opts["loss"],
            "focal_gamma": opts["focal_gamma"] if opts["loss"] == "focal" else None,
            "pos_weight": _rounded(module.hparams.pos_weight),
            "augment": opts["augment"],
            "seed": opts["seed"],
            "weights": opts["weights"],
            "best_checkpoint": Path(best.best_model_path).name or None,
            "seconds": round(seconds, 2),
            "images_per_second": round(images / seconds, 1) if seconds > 0 else None,
            "torch_version": torch.__version__,
        },
        "metrics": {"val": val},
    }
    _copy_metrics_csv(out)
    runfmt.save_run(out, module.model, config)
    return json.loads((out / runfmt.RUN_JSON).read_text(encoding="utf-8"))


def _model_config(opts: dict, names: list[str]) -> dict[str, Any]:
    """The part of ``run.json`` that says how to rebuild the model and make its input."""
    return {
        "arch": opts["arch"],
        "task": opts["task"],
        "attribute_names": names,
        "image_size": opts["size"],
        "crop": opts["crop"],
        "normalisation": {"mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD), "scale": 255},
    }


def _rounded(values: Sequence[float] | None) -> list[float] | None:
    return None if values is None else [round(float(v), 4) for v in values]


def _metric(trainer: Any, key: str) -> float | None:
    value = trainer.callback_metrics.get(key)
    return float(value) if value is not None else None


def _copy_metrics_csv(out: Path) -> None:
    logged = out / "logs" / "metrics.csv"
    if logged.is_file():
        from celebalab.io import write_bytes_atomic

        write_bytes_atomic(out / runfmt.METRICS_CSV, logged.read_bytes())
