"""``celebalab evaluate``: per-attribute metrics of a trained run on one split, with baselines.

Images come from :func:`celebalab.models.inference.iter_split_batches` (the packed cache when one
of the run's size and crop exists, else the decoded files; unreadable ones skipped and listed).
Writes, into ``RUN_DIR/eval_<split>/``: ``metrics.csv`` (one row per attribute), ``metrics.json``
(headline and everything else), ``confusion.csv``, ``predictions.parquet`` and ``report.html``.
All inputs are read and checked before the first file is written, every file is written
atomically, and an earlier evaluation is replaced only with ``overwrite``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from celebalab import _progress
from celebalab.errors import CelebalabError, DataFormatError
from celebalab.io import atomic_path, write_json_atomic, write_text_atomic
from celebalab.metrics.attributes import attribute_metrics, group_means, headline
from celebalab.models._eval_result import EvaluationResult
from celebalab.models.config import EvaluateRunOptions
from celebalab.models.eval_report import build_evaluation_report
from celebalab.models.run import LoadedRun, load_run, require_attribute_outputs
from celebalab.runtime import resolve_device

#: Attribute kinds of the synthetic generator whose pixels are drawn from the label alone.
DRAWN_KINDS: frozenset[str] = frozenset({"drawn", "global"})


@_progress.legacy_progress
def evaluate_run(
    run_dir: str | Path,
    split: str = "test",
    root: str | Path | None = None,
    batch_size: int = 256,
    device: str | None = None,
    workers: int | None = None,
    write: bool = True,
    overwrite: bool = False,
) -> EvaluationResult:
    """Evaluate the run in ``run_dir`` on ``split`` of its dataset (or of ``root``); write outputs.

    ``device`` defaults to CUDA when available; ``workers`` are decoding threads when no packed
    cache exists (see :func:`celebalab.models.inference.iter_split_batches`). Raises
    :class:`CelebalabError` on a bad option, a bad run directory, a missing dataset, an empty
    split or an earlier evaluation in the way (without ``overwrite``), before anything is written;
    the options are checked as :class:`~celebalab.models.config.EvaluateRunOptions`.
    """
    from celebalab.models.inference import iter_split_batches, predict_probabilities, run_splits

    EvaluateRunOptions(split=split, root=None if root is None else str(root),
                       batch_size=batch_size, device=device, workers=workers)  # fmt: skip
    start = time.perf_counter()
    run = require_attribute_outputs(load_run(run_dir, device=resolve_device(device)), "evaluate")
    data_root = _dataset_root(run, root)
    out_dir = Path(run_dir) / f"eval_{split}"
    if write and not overwrite and out_dir.is_dir() and any(out_dir.iterdir()):
        raise CelebalabError(
            f"{out_dir}: an earlier evaluation is in the way; pass --overwrite to replace it"
        )
    names = run.attribute_names
    batches = iter_split_batches(run, data_root, split, batch_size=batch_size, workers=workers)
    if not len(batches.rows):
        raise CelebalabError(f"{data_root}: split {split!r} has no images")
    kept, p = predict_probabilities(run, batches)
    if not len(kept):
        raise CelebalabError(f"{data_root}: no readable images in split {split!r}")
    table = batches.table
    splits = run_splits(run, table)
    ids = table["image_id"].to_numpy()[kept].tolist()
    y = splits.labels[kept]
    train = splits.labels[splits.rows["train"]]
    prevalence = train.mean(axis=0) if len(train) else None

    metrics = attribute_metrics(y, p, run.thresholds, names, prevalence)
    at_half = headline(attribute_metrics(y, p, np.full(len(names), 0.5), names, prevalence))
    kinds = synthetic_attribute_kinds(data_root)
    groups = None if kinds is None else {n: group_of(kinds.get(n, "")) for n in names}
    result = EvaluationResult(
        run_dir=Path(run_dir),
        split=split,
        run=run.record,
        metrics=metrics,
        headline={
            **headline(metrics),
            "mean_accuracy_at_0.5": at_half["mean_accuracy"],
            "mean_balanced_accuracy_at_0.5": at_half["mean_balanced_accuracy"],
        },
        predictions=_predictions_frame(ids, y, p, names),
        data_source=batches.source,
        seconds=time.perf_counter() - start,
        skipped_images=[image_id for image_id, _ in batches.skipped],
        skipped_reasons=[reason for _, reason in batches.skipped],
        notes=[*splits.notes, *_fingerprint_notes(run, data_root, table)],
        attribute_kinds=kinds,
        attribute_groups=groups,
        groups=None if groups is None else group_means(metrics, groups),
    )
    if write:
        write_evaluation(result)
    return result


def _fingerprint_notes(run: LoadedRun, root: Path, table: pd.DataFrame) -> list[str]:
    """A note when the evaluated data differ from the data the run was trained on."""
    from celebalab.models.data import data_fingerprint

    trained_on = run.record.data.fingerprint
    if trained_on and trained_on != data_fingerprint(table, run.attribute_names):
        return [
            f"{root}: image ids, partitions or labels differ from the data this run was "
            "trained on (data fingerprint mismatch)"
        ]
    return []


def write_evaluation(result: EvaluationResult) -> dict[str, Path]:
    """Write the CSV/JSON/Parquet/HTML outputs of ``result`` into its ``out_dir``."""
    out = result.out_dir
    m = result.metrics
    files = {
        "metrics_csv": out / "metrics.csv",
        "metrics_json": out / "metrics.json",
        "confusion_csv": out / "confusion.csv",
        "predictions": out / "predictions.parquet",
        "report": out / "report.html",
    }
    write_text_atomic(files["metrics_csv"], m.to_csv(float_format="%.6g"))
    confusion = m[["threshold", "tp", "fp", "tn", "fn", "n"]]
    write_text_atomic(files["confusion_csv"], confusion.to_csv(float_format="%.6g"))
    with atomic_path(files["predictions"]) as tmp:
        result.predictions.to_parquet(tmp, index=False)
    write_json_atomic(files["metrics_json"], evaluation_summary(result))
    build_evaluation_report(result).write(files["report"])
    result.files = files
    return files


def evaluation_summary(result: EvaluationResult) -> dict[str, Any]:
    """The JSON document of ``metrics.json`` (NaN becomes null when written)."""
    run = result.run
    groups = None
    if result.groups is not None:
        groups = json.loads(result.groups.to_json(orient="index"))
    n = len(result.predictions)
    return {
        "run_dir": str(result.run_dir),
        "split": result.split,
        "arch": run.arch,
        "task": run.task,
        "image_size": run.image_size,
        "threshold_metric": run.threshold_metric,
        "data_root": str(Path(run.data.root or "")),
        "data_source": result.data_source,
        "images": n,
        "skipped_images": result.skipped_images,
        "skipped_reasons": dict(zip(result.skipped_images, result.skipped_reasons, strict=True)),
        "notes": result.notes,
        "seconds": round(result.seconds, 3),
        "headline": result.headline,
        "groups": groups,
        "attribute_kinds": result.attribute_kinds,
        "attributes": {name: row for name, row in result.metrics.to_dict(orient="index").items()},
    }


def synthetic_attribute_kinds(root: str | Path) -> dict[str, str] | None:
    """Attribute → kind ("drawn", "global", "sampled", "mixed") when ``root`` is synthetic data.

    A synthetic CelebA root ``OUT/CelebA`` has ``OUT/synthetic_truth.json`` beside it; real data
    has none and gets ``None``.
    """
    root = Path(root)
    truth = root.parent / "synthetic_truth.json"
    if not truth.is_file():
        return None
    try:
        doc = json.loads(truth.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataFormatError(truth, f"corrupt synthetic truth file ({err})") from None
    kinds = _kinds_from_truth(doc)
    if kinds is None:
        from celebalab.datasets.synth import ATTRIBUTE_REGIONS

        kinds = {name: str(region["kind"]) for name, region in ATTRIBUTE_REGIONS.items()}
    return kinds


def _kinds_from_truth(doc: Any) -> dict[str, str] | None:
    """``attribute_regions.<name>.kind`` of a ``synthetic_truth.json`` document, if present."""
    regions = doc.get("attribute_regions") if isinstance(doc, dict) else None
    if not isinstance(regions, dict):
        return None
    kinds = {n: r.get("kind") for n, r in regions.items() if isinstance(r, dict)}
    return {n: str(k) for n, k in kinds.items() if k} or None


def group_of(kind: str) -> str:
    """Group of the drawn-vs-sampled summary: pixels caused by the label, or only correlated."""
    if kind in DRAWN_KINDS:
        return "drawn"
    return "sampled-only" if kind == "sampled" else kind or "unknown"


def _dataset_root(run: LoadedRun, root: str | Path | None) -> Path:
    path = Path(root) if root is not None else Path(run.record.data.root or "")
    if not str(path) or not path.exists():
        hint = "" if root is not None else " (the root recorded in run.json; pass --root)"
        raise CelebalabError(f"{path}: dataset root not found{hint}")
    return path


def _predictions_frame(
    ids: list[str], y: np.ndarray, p: np.ndarray, names: list[str]
) -> pd.DataFrame:
    data: dict[str, Any] = {"image_id": ids}
    data.update({f"prob_{n}": p[:, j] for j, n in enumerate(names)})
    data.update({f"true_{n}": y[:, j] for j, n in enumerate(names)})
    return pd.DataFrame(data)
