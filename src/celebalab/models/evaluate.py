"""``celebalab evaluate``: per-attribute metrics of a trained run on one split, with baselines.

Reads the split's images from the packed cache when one of the run's size and crop exists (a
memmap slice per batch), else decodes them through :class:`CelebADataset`. Writes, into
``RUN_DIR/eval_<split>/``: ``metrics.csv`` (one row per attribute), ``metrics.json`` (headline
and everything else), ``confusion.csv``, ``predictions.parquet`` and ``report.html``. All inputs
are read and checked before the first file is written, and every file is written atomically, so
a failed evaluation leaves an earlier one untouched.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from celebalab.errors import CelebalabError, DataFormatError
from celebalab.io import atomic_path, write_json_atomic, write_text_atomic
from celebalab.models.metrics import attribute_metrics, group_means, headline
from celebalab.models.run import LoadedRun, load_run

SPLITS: tuple[str, ...] = ("train", "val", "test", "all")
#: Attribute kinds of the synthetic generator whose pixels are drawn from the label alone.
DRAWN_KINDS: frozenset[str] = frozenset({"drawn", "global"})


@dataclass
class EvaluationResult:
    """Everything ``evaluate`` measured; ``files`` are the outputs it wrote."""

    run_dir: Path
    split: str
    config: dict[str, Any]
    metrics: pd.DataFrame
    headline: dict[str, float | int]
    predictions: pd.DataFrame
    data_source: str
    seconds: float
    skipped_images: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    attribute_kinds: dict[str, str] | None = None
    attribute_groups: dict[str, str] | None = None
    groups: pd.DataFrame | None = None
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def out_dir(self) -> Path:
        """Folder of this split's evaluation outputs."""
        return self.run_dir / f"eval_{self.split}"


def evaluate_run(
    run_dir: str | Path,
    split: str = "test",
    root: str | Path | None = None,
    batch_size: int = 256,
    device: str | None = None,
    workers: int | None = None,
    write: bool = True,
) -> EvaluationResult:
    """Evaluate the run in ``run_dir`` on ``split`` of its dataset (or of ``root``); write outputs.

    ``device`` defaults to CUDA when available; ``workers`` are DataLoader processes for the
    decode path (default: up to 4). Raises :class:`CelebalabError` on a bad run directory, a
    missing dataset or an empty split, before anything is written.
    """
    if split not in SPLITS:
        raise CelebalabError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    start = time.perf_counter()
    run = load_run(run_dir, device=default_device(device))
    data_root = _dataset_root(run, root)
    names = run.attribute_names

    data = _read_split(run, data_root, split)
    batches, source = _split_batches(run, data_root, data.table, data.rows, batch_size, workers)
    kept, p, skipped = _predict(run, batches)
    if not len(kept):
        raise CelebalabError(f"{data_root}: no readable images in split {split!r}")
    ids = data.table["image_id"].to_numpy()[kept].tolist()
    y = data.labels[kept]

    metrics = attribute_metrics(y, p, run.thresholds, names, data.train_prevalence)
    kinds = synthetic_attribute_kinds(data_root)
    groups = None if kinds is None else {n: group_of(kinds.get(n, "")) for n in names}
    result = EvaluationResult(
        run_dir=Path(run_dir),
        split=split,
        config=run.config,
        metrics=metrics,
        headline=headline(metrics),
        predictions=_predictions_frame(ids, y, p, names),
        data_source=source,
        seconds=time.perf_counter() - start,
        skipped_images=data.table["image_id"].to_numpy()[skipped].tolist(),
        notes=data.notes,
        attribute_kinds=kinds,
        attribute_groups=groups,
        groups=None if groups is None else group_means(metrics, groups),
    )
    if write:
        write_evaluation(result)
    return result


@dataclass
class _SplitData:
    """The table, the rows of the evaluated split, labels of the run's attributes and notes."""

    table: pd.DataFrame
    rows: np.ndarray
    labels: np.ndarray
    train_prevalence: np.ndarray | None
    notes: list[str]


def _read_split(run: LoadedRun, root: Path, split: str) -> _SplitData:
    """Rows of ``split`` as training defined them (official or the run's seeded partition)."""
    from celebalab.datasets.table import load_table
    from celebalab.models.data import data_fingerprint, make_splits

    names = run.attribute_names
    table = load_table(root)
    seed = int((run.config.get("training") or {}).get("seed", 0))
    splits = make_splits(table, names, seed)
    rows = np.arange(len(table)) if split == "all" else splits.rows[split]
    if not len(rows):
        raise CelebalabError(f"{root}: split {split!r} has no images")
    notes = list(splits.notes)
    trained_on = (run.config.get("data") or {}).get("fingerprint")
    if trained_on and trained_on != data_fingerprint(table, names):
        notes.append(
            f"{root}: image ids, partitions or labels differ from the data this run was "
            "trained on (data fingerprint mismatch)"
        )
    train = splits.labels[splits.rows["train"]]
    prevalence = train.mean(axis=0) if len(train) else None
    return _SplitData(table, rows, splits.labels, prevalence, notes)


def _predict(run: LoadedRun, batches: Iterator[Batch]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Probabilities of every readable row: (rows kept, n×K float32, rows skipped)."""
    kept: list[np.ndarray] = [np.zeros(0, np.int64)]
    probs: list[np.ndarray] = [np.zeros((0, len(run.attribute_names)), np.float32)]
    bad: list[np.ndarray] = [np.zeros(0, np.int64)]
    for ok_rows, images, bad_rows in batches:
        bad.append(bad_rows)
        if len(ok_rows):
            kept.append(ok_rows)
            probs.append(run.predict_proba(images))
    return np.concatenate(kept), np.concatenate(probs).astype(np.float32), np.concatenate(bad)


def default_device(device: str | None = None) -> str:
    """``device`` if given, else ``"cuda"`` when a GPU is visible, else ``"cpu"``."""
    return device or ("cuda" if torch.cuda.is_available() else "cpu")


def write_evaluation(result: EvaluationResult) -> dict[str, Path]:
    """Write the CSV/JSON/Parquet/HTML outputs of ``result`` into its ``out_dir``."""
    from celebalab.models.eval_report import build_evaluation_report

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
    cfg = result.config
    groups = None
    if result.groups is not None:
        groups = json.loads(result.groups.to_json(orient="index"))
    n = len(result.predictions)
    return {
        "run_dir": str(result.run_dir),
        "split": result.split,
        "arch": cfg.get("arch"),
        "task": cfg.get("task"),
        "image_size": cfg.get("image_size"),
        "threshold_metric": cfg.get("threshold_metric"),
        "data_root": str(_configured_root(cfg)),
        "data_source": result.data_source,
        "images": n,
        "skipped_images": result.skipped_images,
        "notes": result.notes,
        "seconds": round(result.seconds, 3),
        "headline": result.headline,
        "groups": groups,
        "attribute_kinds": result.attribute_kinds,
        "attributes": {
            name: row for name, row in result.metrics.to_dict(orient="index").items()
        },
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
        from celebalab.datasets.synth.regions import ATTRIBUTE_REGIONS

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
    path = Path(root) if root is not None else _configured_root(run.config)
    if not str(path) or not path.exists():
        hint = "" if root is not None else " (the root recorded in run.json; pass --root)"
        raise CelebalabError(f"{path}: dataset root not found{hint}")
    return path


def _configured_root(config: dict[str, Any]) -> Path:
    data = config.get("data") or {}
    return Path(data.get("root") or "")


#: A batch: table rows read, their uint8 images, table rows whose image is unreadable.
Batch = tuple[np.ndarray, "np.ndarray | torch.Tensor", np.ndarray]


def _split_batches(
    run: LoadedRun,
    root: Path,
    table: pd.DataFrame,
    rows: np.ndarray,
    batch_size: int,
    workers: int | None,
) -> tuple[Iterator[Batch], str]:
    """Batches of the table ``rows``, from the packed cache when it matches, else decoded."""
    from celebalab.datasets.packed import PackedImages

    size, crop = run.image_size, run.config.get("crop", "center")
    pack = PackedImages.open(root, size, crop, image_ids=table["image_id"].tolist())
    if pack is not None:
        return _packed_batches(pack, rows, batch_size), "packed cache"
    if crop != "center":
        raise CelebalabError(
            f"{root}: no packed cache with crop {crop!r} at {size} px; "
            f"run `celebalab data pack {root} --size {size} --crop {crop}` first"
        )
    return _decoded_batches(root, rows, size, batch_size, workers), "image files"


def _packed_batches(pack: Any, rows: np.ndarray, batch_size: int) -> Iterator[Batch]:
    """Memmap slices of the pack, whose rows are the table's (``open`` checked the ids)."""
    valid = np.asarray(pack.valid)
    for start in range(0, len(rows), batch_size):
        batch = rows[start : start + batch_size]
        ok = valid[batch]
        yield batch[ok], np.asarray(pack.images[batch[ok]]), batch[~ok]


class _TolerantRows(Dataset):
    """Rows of a :class:`CelebADataset`; an unreadable image is flagged instead of raised."""

    def __init__(self, dataset: Any, rows: np.ndarray, size: int) -> None:
        self.dataset, self.rows, self.size = dataset, rows, size

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, bool]:
        row = int(self.rows[index])
        try:
            return self.dataset[row]["image"], row, True
        except DataFormatError:
            return torch.zeros((3, self.size, self.size), dtype=torch.uint8), row, False


def _decoded_batches(
    root: Path, rows: np.ndarray, size: int, batch_size: int, workers: int | None
) -> Iterator[Batch]:
    """Images decoded by ``CelebADataset`` (crop and resize as in the pack), in worker processes."""
    from torch.utils.data import DataLoader

    from celebalab.datasets.torch_datasets import CelebADataset

    dataset = CelebADataset(root, split="all", size=size, use_pack=False)  # rows = table rows
    num_workers = min(4, os.cpu_count() or 1) if workers is None else workers
    loader = DataLoader(
        _TolerantRows(dataset, rows, size), batch_size=batch_size, num_workers=num_workers
    )
    for images, batch_rows, ok in loader:
        batch_rows, ok = batch_rows.numpy(), ok.numpy()
        yield batch_rows[ok], images[torch.from_numpy(ok)], batch_rows[~ok]


def _predictions_frame(
    ids: list[str], y: np.ndarray, p: np.ndarray, names: list[str]
) -> pd.DataFrame:
    data: dict[str, Any] = {"image_id": ids}
    data.update({f"prob_{n}": p[:, j] for j, n in enumerate(names)})
    data.update({f"true_{n}": y[:, j] for j, n in enumerate(names)})
    return pd.DataFrame(data)

