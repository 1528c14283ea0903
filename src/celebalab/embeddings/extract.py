"""``celebalab embed extract RUN ROOT``: an embedding set from any run, resumable and atomic.

Why work units: a long extraction must survive ``kill -9`` and be resumed, never restarted.
The rows of the split are cut into units of :data:`UNIT_ROWS` images; each finished unit is
saved as one ``.npz`` file (written atomically) in ``EMB/.work/``, beside ``job.json`` which
records what is being extracted (run, data, split, rows, settings). A rerun with the same job
skips the finished units; a different job refuses to mix (use ``--overwrite``). When every unit
is there, the set is assembled (vectors streamed unit by unit) and its manifest written last;
the work folder is then removed. Unreadable images are skipped, listed in the manifest
(``skipped``) and printed.

With ``devices > 1`` on GPUs the units go through Lightning's ``Trainer.predict`` (DDP, one
process per GPU), each rank writing its own unit files with the same writer callback; on CPU
the units run in this process (``engine="lightning"`` forces the Lightning path, as tests do).
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from celebalab import _progress
from celebalab.datasets.dataset import Dataset, DatasetLike, open_dataset
from celebalab.embeddings.config import ENGINES, ExtractOptions  # noqa: F401 (ENGINES: old home)
from celebalab.embeddings.features import gives_probabilities, run_vectors
from celebalab.embeddings.store import (
    EMBEDDING_SET,
    MANIFEST,
    WORK_DIR,
    EmbeddingSet,
    EmbeddingSetError,
    load_embeddings,
    pack_unit,
    save_unit,
    standard_meta,
    write_embedding_set,
)
from celebalab.io import write_json_atomic
from celebalab.rundir import RunOutput, open_output, writing

UNIT_ROWS = 2048
JOB_FILE = "job.json"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Job:
    """One extraction: which rows of which data through which run, and where units go."""

    run: Any
    root: Path
    dataset: Dataset
    rows: np.ndarray
    work: Path
    batch_size: int
    normalise: bool
    workers: int | None
    missing: int  # rows of the split left out: no image file

    def units(self) -> list[np.ndarray]:
        return [self.rows[i : i + UNIT_ROWS] for i in range(0, len(self.rows), UNIT_ROWS)]

    def unit_path(self, index: int) -> Path:
        return self.work / f"unit_{index:06d}.npz"

    def todo(self) -> list[int]:
        return [i for i in range(len(self.units())) if not self.unit_path(i).is_file()]


@_progress.legacy_progress
def extract_embeddings(
    run_dir: str | Path,
    root: DatasetLike,
    out: str | Path,
    *,
    split: str = "all",
    batch_size: int = 256,
    normalise: bool = True,
    devices: int = 1,
    engine: str = "auto",
    workers: int | None = None,
    overwrite: bool = False,
    device: str | None = None,
) -> EmbeddingSet:
    """Extract the embedding set of ``split`` of the dataset at ``root`` through ``run_dir``.

    Only images whose file exists are read (a partial copy is one line; the manifest's
    ``missing`` holds their count and the file listing them). Resumes an interrupted extraction
    into the same ``out`` with the same settings. Returns the complete set;
    ``info.skipped`` lists ``{"image_id", "reason"}`` of unreadable images.
    """
    from celebalab.models.run import load_run
    from celebalab.runtime import resolve_device

    ExtractOptions(split=split, batch_size=batch_size, normalise=normalise, devices=devices,
                   device=device, workers=workers, engine=engine)  # fmt: skip
    out = Path(out)
    run = load_run(run_dir, resolve_device(device))
    dataset = open_dataset(root)
    job, output = _start_job(run, dataset, out, split, batch_size, normalise, workers, overwrite)
    todo = job.todo()
    log.info(
        "extracting %d images of split %r through %s (%d of %d units already done)",
        len(job.rows),
        split,
        run.run_dir,
        len(job.units()) - len(todo),
        len(job.units()),
    )
    use_lightning = engine == "lightning" or (engine == "auto" and devices > 1)
    with writing(output, keep=True):  # an interrupted extraction is resumed by the same command
        if todo:
            if use_lightning:
                _lightning_units(job, todo, devices)
            else:
                _loop_units(job, todo)
        _assemble(job, output.path, split)
    return load_embeddings(out)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- the job


def _start_job(
    run: Any, dataset: Dataset, out: Path, split: str, batch_size: int, normalise: bool,
    workers: int | None, overwrite: bool,
) -> tuple[_Job, RunOutput]:  # fmt: skip
    """Rows of the split and the work folder; a job of other settings in ``out`` is an error
    without ``overwrite``. With it the new set is staged beside ``out`` (:mod:`celebalab.rundir`)
    and replaces the earlier one, its evaluations included, only when complete."""
    from celebalab.models.inference import run_splits

    table, root = dataset.table, dataset.root
    chosen = np.arange(len(table)) if split == "all" else run_splits(run, table).rows[split]
    rows = dataset.only_present(chosen)
    if len(rows) == 0:
        missing = f" whose file exists (listed in {dataset.missing_file})" if len(chosen) else ""
        raise EmbeddingSetError(f"{root}: split {split!r} has no images{missing}")
    dataset.say_presence()
    run_json = (Path(run.run_dir) / "run.json").read_bytes()
    ids = "\n".join(table["image_id"].iloc[rows].astype(str)).encode()
    key = {
        "run": str(Path(run.run_dir).resolve()),
        "run_sha256": hashlib.sha256(run_json).hexdigest(),
        "root": str(root.resolve()),
        "split": split,
        "rows_sha256": hashlib.sha256(ids).hexdigest(),
        "normalise": normalise,
        "unit_rows": UNIT_ROWS,
    }
    saved = _read_job(out / WORK_DIR / JOB_FILE)
    if saved is not None and saved != key and not overwrite:
        raise EmbeddingSetError(
            f"{out / WORK_DIR / JOB_FILE}: an unfinished extraction with other settings is in "
            f"{out}; use --overwrite to discard it"
        )

    def same_job(folder: Path) -> bool:
        return _read_job(folder / WORK_DIR / JOB_FILE) == key

    output = open_output(out, EMBEDDING_SET, overwrite=overwrite, resumable=same_job)
    work = output.path / WORK_DIR
    if same_job(output.path):
        (output.path / MANIFEST).unlink(missing_ok=True)  # a job in progress: it is older
    else:
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        write_json_atomic(work / JOB_FILE, key)
    job = _Job(run=run, root=root, dataset=dataset, rows=rows, work=work, batch_size=batch_size,
               normalise=normalise, workers=workers, missing=len(chosen) - len(rows))  # fmt: skip
    return job, output


def _read_job(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


# ---------------------------------------------------------------- running units


def _unit_result(job: _Job, index: int) -> dict[str, np.ndarray]:
    """Decode and embed one unit: its kept rows, vectors, probabilities and skipped images."""
    from celebalab.models.inference import iter_split_batches

    unit = job.units()[index]
    batches = iter_split_batches(job.run, job.dataset, rows=unit, batch_size=job.batch_size,
                                 workers=job.workers)  # fmt: skip
    rows, vectors, probs = [], [], []
    for batch in batches:
        vec, prob = run_vectors(job.run, batch.images, job.normalise)
        rows.append(batch.rows)
        vectors.append(vec)
        if prob is not None:
            probs.append(prob)
    return pack_unit(rows, vectors, probs, batches.skipped)


def _loop_units(job: _Job, todo: list[int]) -> None:
    sizes = [len(u) for u in job.units()]
    done = sum(sizes) - sum(sizes[i] for i in todo)
    with _progress.bar(total=sum(sizes), initial=done, unit="img") as bar:
        for index in todo:
            save_unit(job.unit_path(index), _unit_result(job, index))
            bar.update(sizes[index])


def _lightning_units(job: _Job, todo: list[int], devices: int) -> None:
    """Units through ``Trainer.predict``: DDP over ``devices`` GPUs, each rank saving its units."""
    import lightning.pytorch as pl

    from celebalab.embeddings._lightning_predict import UnitDataset, UnitModule, UnitWriter
    from celebalab.runtime import cuda_available

    gpu = cuda_available()
    trainer = pl.Trainer(
        accelerator="gpu" if gpu else "cpu",
        devices=devices if gpu else 1,
        strategy="ddp" if gpu and devices > 1 else "auto",
        callbacks=[UnitWriter(job)],
        logger=False,
        enable_progress_bar=_progress.bars_shown(),
        enable_model_summary=False,
        enable_checkpointing=False,
    )
    dataset = UnitDataset(job, todo)
    loader = torch.utils.data.DataLoader(dataset, batch_size=None, shuffle=False)
    trainer.predict(UnitModule(job), dataloaders=loader, return_predictions=False)


# ---------------------------------------------------------------- assembling the set


def _units(job: _Job) -> Iterator[dict[str, np.ndarray]]:
    for index in range(len(job.units())):
        with np.load(job.unit_path(index)) as unit:
            yield {k: unit[k] for k in unit.files}


def _assemble(job: _Job, out: Path, split: str) -> EmbeddingSet:
    """Stream the units into the set in ``out``, metadata from the table, manifest last; drop
    the work folder."""
    from celebalab.models.data import data_fingerprint

    missing = job.todo()
    if missing:
        raise EmbeddingSetError(f"{job.work}: {len(missing)} unit(s) missing; rerun to resume")
    kept, skipped = [], []
    for unit in _units(job):
        kept.append(unit["rows"])
        skipped.extend(_skipped(unit["skipped"]))
    dataset = job.dataset
    table = dataset.table.iloc[np.concatenate(kept)]
    run = job.run
    meta = standard_meta(
        table["image_id"].astype(str), table["identity"].to_numpy(np.int64),
        table["partition"].to_numpy(np.int8), table, probabilities=_probs(job),
    )  # fmt: skip
    source = {"type": "run", "run": str(Path(run.run_dir).resolve()), "arch": run.record.arch,
              "task": run.task, "image_size": run.image_size, "crop": run.crop,
              "alignment": run.face_prep.to_config(),
              "normalise": job.normalise, "split": split}  # fmt: skip
    data = {"root": str(job.root.resolve()),
            "fingerprint": data_fingerprint(dataset.table, []),
            "run_data_fingerprint": run.record.data.fingerprint}  # fmt: skip
    emb = write_embedding_set(
        out, (unit["vectors"] for unit in _units(job)), meta, source=source, data=data,
        images=dataset.image_dir, extra={"skipped": skipped, "missing": _missing(job)},
    )  # fmt: skip
    if skipped:
        _say(f"{len(skipped)} unreadable image(s) skipped: "
             + "; ".join(f"{s['image_id']}: {s['reason']}" for s in skipped[:3])
             + (" …" if len(skipped) > 3 else ""))  # fmt: skip
    shutil.rmtree(job.work, ignore_errors=True)
    return emb


def _missing(job: _Job) -> dict[str, Any]:
    """Rows of the split without an image file: their count and the file listing the dataset's
    missing images, never the list itself."""
    listed = str(job.dataset.missing_file) if job.missing else None
    return {"count": job.missing, "list": listed}


def _probs(job: _Job) -> np.ndarray | None:
    if not gives_probabilities(job.run):
        return None
    return np.concatenate([u["probs"].reshape(len(u["rows"]), -1) for u in _units(job)])


def _skipped(lines: np.ndarray) -> list[dict[str, str]]:
    out = []
    for line in lines.tolist():
        image_id, _, reason = str(line).partition("\t")
        out.append({"image_id": image_id, "reason": reason})
    return out
