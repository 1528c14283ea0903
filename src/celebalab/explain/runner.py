"""``run_explain``: attributions of a trained run on images with masks → metrics, FR, outputs.

For each attribute (its logit on images where it is present) and, with ``pairs``, for pair
decisions (cosine similarity of two embeddings, explained for the first image), every method's
maps are computed batch by batch, scored against the ground-truth region (regional metrics,
share of mass in each seed region group) and put through the falsification test and deletion/
insertion curves. Each (decision, method) is checkpointed under ``OUT/.checkpoints`` as soon
as it is done, so a killed run resumes where it stopped; ``results.json`` is written last.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from celebalab import _progress
from celebalab.datasets.dataset import Dataset, open_dataset
from celebalab.errors import CelebalabError, OptionError
from celebalab.explain._imported import InputFrame, LabelMaps, method_refusals
from celebalab.explain._selection import (
    PairSet,
    counterfactual_pairs,
    has_label_map,
    label_pairs,
    select_images,
    synthetic_truth,
)
from celebalab.explain.config import ExplainConfig
from celebalab.explain.decisions import (
    PAIR_DECISION,
    AttributeDecision,
    PairDecision,
    PenultimateFeatures,
)
from celebalab.explain.falsification import falsify
from celebalab.explain.methods import attribute
from celebalab.explain.metrics import mass_share, regional_metrics
from celebalab.explain.regions import ANALYSIS_REGION_GROUPS, class_masks, region_table_for
from celebalab.io import atomic_path, write_json_atomic
from celebalab.models.inference import ImageBatch
from celebalab.models.run import LoadedRun, load_run
from celebalab.rundir import RunKind, open_output, writing
from celebalab.runtime import resolve_device

RESULTS_JSON = "results.json"
CHECKPOINT_DIR = ".checkpoints"
#: An explain output folder: ``--overwrite`` replaces these names, never other files in it.
EXPLAIN_OUTPUT = RunKind(
    "explain output", manifest=RESULTS_JSON,
    outputs=("per_image.parquet", "report.html", CHECKPOINT_DIR),
)  # fmt: skip


@dataclass
class Samples:
    """A few images of one decision kept for the report: pictures, label maps, masks, maps."""

    images: np.ndarray  # k×S×S×3 uint8
    label_maps: np.ndarray  # k×S×S uint8
    masks: np.ndarray  # k×S×S bool
    maps: dict[str, np.ndarray] = field(default_factory=dict)  # method → k×S×S


@dataclass
class ExplainOutputs:
    """Everything an explain run measured, before it is summarised and written."""

    per_image: pd.DataFrame
    samples: dict[str, Samples]
    regions: dict[str, tuple[str, ...]]
    skipped: list[dict[str, str]]
    timing: dict[str, dict[str, float]]
    synthetic: dict | None
    pair_source: str | None = None


@_progress.legacy_progress
def run_explain(
    run_dir: str | Path | LoadedRun,
    root: str | Path,
    out: str | Path,
    *,
    config: ExplainConfig | None = None,
    device: str | None = None,
    fr_table: str | Path | None = None,
    overwrite: bool = False,
):
    """Explain ``run_dir``'s decisions on ``root`` and write ``out`` (see module docstring).

    ``run_dir`` is a run directory or an already loaded run (any network: tests, notebooks).

    Returns the :class:`~celebalab.explain.summary.ExplainResult` that was written.
    """
    from celebalab.explain.report import write_report
    from celebalab.explain.summary import read_fr_table, summarise

    config = config or ExplainConfig()
    root, out = Path(root), Path(out)
    run_path = run_dir.run_dir if isinstance(run_dir, LoadedRun) else Path(run_dir)
    user_fr = read_fr_table(fr_table) if fr_table is not None else None
    fingerprint = config.fingerprint(run_path, root)
    output = open_output(out, EXPLAIN_OUTPUT, overwrite=overwrite,
                         resumable=lambda folder: _stamped(folder, fingerprint))  # fmt: skip
    # An interrupted run (an --overwrite too, in its staged folder) resumes from its checkpoints;
    # the earlier outputs in ``out`` are replaced only once the new ones are all written.
    with writing(output, keep=True):
        with _checkpoint_dir(output.path, fingerprint) as checkpoints:
            loaded = isinstance(run_dir, LoadedRun)
            run = run_dir if loaded else load_run(run_dir, resolve_device(device))
            outputs = measure(run, root, checkpoints, config=config)
        result = summarise(outputs, config=config, run_dir=run_path, root=root, user_fr=user_fr)
        with atomic_path(output.path / "per_image.parquet") as tmp:
            outputs.per_image.to_parquet(tmp, index=False)
        write_report(result, outputs, output.path / "report.html")
        write_json_atomic(output.path / RESULTS_JSON, result.to_json())
    return result


def _stamped(folder: Path, fingerprint: str) -> bool:
    """Whether ``folder`` holds checkpoints of this very configuration."""
    stamp = folder / CHECKPOINT_DIR / "config.txt"
    return stamp.is_file() and stamp.read_text().strip() == fingerprint


@contextlib.contextmanager
def _checkpoint_dir(folder: Path, fingerprint: str) -> Iterator[Path]:
    """``FOLDER/.checkpoints`` for this configuration: resumed if it matches, else started.

    A run that fails before its first checkpoint leaves no stamp, so the corrected command is
    not refused as "folder is not empty" (:func:`celebalab.rundir.writing` removes the folder
    it made when it stays empty).
    """
    checkpoints = folder / CHECKPOINT_DIR
    stamp = checkpoints / "config.txt"
    if not _stamped(folder, fingerprint):
        checkpoints.mkdir(parents=True, exist_ok=True)
        stamp.write_text(fingerprint)
    try:
        yield checkpoints
    except BaseException:
        if list(checkpoints.iterdir()) == [stamp]:
            shutil.rmtree(checkpoints)
        raise


def measure(
    run: LoadedRun,
    root: Path,
    checkpoints: Path,
    *,
    config: ExplainConfig,
) -> ExplainOutputs:
    """Compute (or resume) every decision × method; the per-image table and report samples.

    Methods ``run`` cannot use, and regional metrics its alignment cannot serve, are refused
    first, one ``skipped`` line each (see :mod:`._imported`); the rest of the run goes on.
    """
    from celebalab.models.inference import run_splits

    truth = synthetic_truth(root)
    is_identity = run.task == "identity"
    regions = {} if is_identity else _regions(run, truth, config)  # checked before any work
    refused = method_refusals(run, config.methods)
    methods = tuple(m for m in config.methods if m not in refused)
    if not methods:
        why = next(iter(refused.values()))
        raise OptionError(f"--methods: {', '.join(refused)} cannot run: {why}; add occlusion, "
                          "lime or kernelshap, which only need the model's outputs")  # fmt: skip
    dataset = open_dataset(root)
    table = dataset.table
    inputs = InputFrame.of(run, table)
    split_rows = dataset.only_present(  # only images whose file exists: one line says how many
        np.arange(len(table))
        if config.split == "all"
        else run_splits(run, table).rows[config.split]
    )
    dataset.say_presence()
    labels = inputs.label_maps(root, split_rows)
    selection = select_images(table, split_rows, labels, regions, n=config.n, seed=config.seed)
    lines = [f"{m} skipped: {why}; the other methods run" for m, why in refused.items()]
    selection.skipped[:0] = [{"image_id": "-", "reason": line} for line in lines]
    frames, samples, timing = [], {}, {}
    planted = _planted(root, truth)
    work = _Work(run, dataset, table, labels, inputs, methods, config, checkpoints, planted)
    for name, rows in selection.rows.items():
        if not len(rows):
            why = f"present with its region visible in no image of the {config.split} split"
            selection.skipped.append({"image_id": "-", "reason": f"{name} skipped: {why}"})
            continue
        decision = AttributeDecision(run.model, run.attribute_names.index(name))
        masks = class_masks(labels.labels[rows], regions[name])
        frame, kept, times = work.decision(name, decision, rows, masks, None)
        frames.append(frame)
        samples[name], timing[name] = kept, times
    pair_source = None
    if config.pairs or is_identity:
        pairs = counterfactual_pairs(root, table, split_rows, config.n, inputs.mask)
        pairs = pairs or label_pairs(table, split_rows, labels, n=config.n, seed=config.seed)
        if pairs is None:
            selection.skipped.append({"image_id": "-", "reason": "pairs: no pair found"})
        else:
            decision = PairDecision(run.model if is_identity else _embedder(run.model))
            frame, kept, times = work.decision(
                PAIR_DECISION, decision, pairs.first_rows, pairs.masks, pairs
            )
            frames.append(frame)
            samples[PAIR_DECISION], timing[PAIR_DECISION] = kept, times
            pair_source = pairs.source
    if not frames:
        raise CelebalabError(
            _nothing_to_explain(root, config.split, has_label_map(labels, split_rows))
        )
    return ExplainOutputs(
        per_image=pd.concat(frames, ignore_index=True),
        samples=samples,
        regions=regions,
        skipped=selection.skipped,
        timing=timing,
        synthetic=truth,
        pair_source=pair_source,
    )


def _nothing_to_explain(root: Path, split: str, has_mask: np.ndarray) -> str:
    """Why no decision had an image, with a hint that can help (never the split in use)."""
    if not has_mask.any():
        return (f"{root}: nothing to explain: no image of the {split} split has a face-parsing "
                "mask (CelebAMask-HQ: is its CelebAMask-HQ-mask-anno folder there?)")  # fmt: skip
    other = "--split all or other --attributes" if split != "all" else "other --attributes"
    return (f"{root}: nothing to explain (no image of the {split} split has one of the "
            f"attributes present with its region visible); try {other}")  # fmt: skip


def _embedder(model: torch.nn.Module) -> torch.nn.Module:
    """An attribute classifier's penultimate features; a network without a linear head (any
    image → vector module) is its own embedder. Identity runs output the embedding itself."""
    try:
        return PenultimateFeatures(model)
    except TypeError:
        return model


def _subset(batch: ImageBatch, keep: np.ndarray) -> ImageBatch:
    """``batch`` without the rows where ``keep`` is False."""
    if keep.all():
        return batch
    ids = [i for i, k in zip(batch.image_ids, keep, strict=True) if k]
    return ImageBatch(images=batch.images[torch.from_numpy(keep)], rows=batch.rows[keep],
                      image_ids=ids)  # fmt: skip


def _positions(rows: np.ndarray, kept: np.ndarray, cursor: int) -> tuple[np.ndarray, int]:
    """Positions in ``rows`` of the batch's ``kept`` rows, scanning on from ``cursor``."""
    at = []
    for row in kept:
        while rows[cursor] != row:
            cursor += 1
        at.append(cursor)
        cursor += 1
    return np.asarray(at, dtype=np.int64), cursor


def _planted(root: Path, truth: dict | None) -> dict:
    """Shortcut name → (planted classes, per-image cue flags when the truth table has them)."""
    if not truth or not truth.get("shortcuts"):
        return {}
    cues = None
    if (root / "synthetic_truth.parquet").is_file():
        cues = pd.read_parquet(root / "synthetic_truth.parquet").set_index("image_id")
    planted = {}
    for cut in truth["shortcuts"]:
        name = f"{cut['attribute']}:{cut['region']}"
        column = f"cue:{name}"
        cue = cues[column].astype(bool) if cues is not None and column in cues else None
        planted[name] = (tuple(cut["classes"]), cue)
    return planted


def _regions(run, truth: dict | None, config: ExplainConfig) -> dict[str, tuple[str, ...]]:
    table = region_table_for(truth is not None, config.regions)
    wanted = config.attributes or tuple(a for a in run.attribute_names if a in table)
    missing = [a for a in wanted if a not in run.attribute_names]
    if missing:
        raise CelebalabError(
            f"--attributes {missing[0]}: the run predicts {', '.join(run.attribute_names)}"
        )
    no_region = [a for a in wanted if a not in table]
    if no_region:
        raise CelebalabError(
            f"--attributes {no_region[0]}: no region in the table (global or label-only "
            "attribute); give one with --regions FILE"
        )
    return {a: table[a] for a in wanted}


@dataclass
class _Work:
    """Shared state of one explain run; :meth:`decision` does one decision's every method."""

    run: LoadedRun
    dataset: Dataset
    table: pd.DataFrame
    labels: LabelMaps | None  # None: regional metrics refused (masks cannot follow the images)
    inputs: InputFrame
    methods: tuple[str, ...]
    config: ExplainConfig
    checkpoints: Path
    planted: dict[str, tuple[tuple[str, ...], pd.Series | None]]

    def decision(self, name, decision, rows, masks, pairs: PairSet | None):
        frames, times = [], {}
        kept = self._samples(rows, masks)
        for method in self.methods:
            path = self.checkpoints / f"{name}__{method.replace('+', 'p')}"
            if not (path.with_suffix(".parquet").is_file() and path.with_suffix(".npz").is_file()):
                self._compute(name, method, decision, rows, masks, pairs, path)
            frame = pd.read_parquet(path.with_suffix(".parquet"))
            frames.append(frame)
            kept.maps[method] = np.load(path.with_suffix(".npz"))["maps"]
            times[method] = float(frame["seconds"].iat[0]) if len(frame) else 0.0
        return pd.concat(frames, ignore_index=True), kept, times

    def _samples(self, rows, masks) -> Samples:
        k = min(self.config.samples, len(rows))
        images = (
            np.concatenate([b.images.permute(0, 2, 3, 1).numpy() for b in self._batches(rows[:k])])
            if k
            else np.zeros((0, 1, 1, 3), np.uint8)
        )
        return Samples(images, np.asarray(self.labels.labels[rows[:k]]), masks[:k])

    def _batches(self, rows):
        from celebalab.models.inference import iter_split_batches

        return iter_split_batches(self.run, self.dataset, rows=rows,
                                  batch_size=self.config.batch_size)  # fmt: skip

    def _compute(self, name, method, decision, rows, masks, pairs, path: Path) -> None:
        from celebalab.models.inference import model_input

        cfg, ids = self.config, self.table["image_id"].astype(str).to_numpy()
        cursor = 0  # batches keep the order of ``rows`` (which may repeat) and only drop rows
        rng = np.random.default_rng([cfg.seed, sum(map(ord, name + method))])
        records, sample_maps = [], []
        t0 = time.perf_counter()
        bar = _progress.bar(total=len(rows), desc=f"{name} · {method}", unit="img", leave=False)
        with bar:
            for batch in self._batches(rows):
                at, cursor = _positions(rows, batch.rows, cursor)
                extra: tuple = ()
                if pairs is not None:
                    extra, keep = self._extra(decision, pairs, at)
                    batch, at = _subset(batch, keep), at[keep]  # pairs whose second face is read
                x = model_input(self.run, batch.images).contiguous()
                maps = attribute(
                    method,
                    decision,
                    x,
                    extra=extra,
                    images=batch.images.numpy(),
                    settings=cfg.attribution,
                    rng=rng,
                )
                records.append(
                    self._score(
                        name, method, decision, x, extra, maps, masks, batch, at, pairs, ids
                    )
                )
                sample_maps.extend(maps[at < cfg.samples])
                bar.update(len(batch))
        frame = pd.concat(records, ignore_index=True)
        frame["seconds"] = time.perf_counter() - t0
        with atomic_path(path.with_suffix(".npz")) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, maps=np.asarray(sample_maps, dtype=np.float32))
        with atomic_path(path.with_suffix(".parquet")) as tmp:
            frame.to_parquet(tmp, index=False)

    def _extra(
        self, decision: PairDecision, pairs: PairSet, at: np.ndarray
    ) -> tuple[tuple[torch.Tensor], np.ndarray]:
        """The second faces' embeddings of pairs ``at``, and which pairs have one (an unreadable
        second image, or one without a face, drops its pair rather than shifting the rest)."""
        from celebalab.models.inference import model_input

        keep = np.ones(len(at), dtype=bool)
        if pairs.second_files is not None:  # the same face re-rendered: the first's alignment
            images = np.stack(
                [self.inputs.image(pairs.second_files[i], pairs.first_rows[i]) for i in at]
            )
        else:
            wanted = pairs.second_rows[at]
            read = list(self._batches(wanted))
            found = np.concatenate([np.zeros(0, np.int64), *(b.rows for b in read)])
            keep[:] = False
            keep[_positions(wanted, found, 0)[0]] = True
            side = self.run.image_size
            nhwc = [b.images.permute(0, 2, 3, 1).numpy() for b in read]
            images = np.concatenate([np.zeros((0, side, side, 3), np.uint8), *nhwc])
        return (decision.embed(model_input(self.run, images).contiguous()),), keep

    def _score(self, name, method, decision, x, extra, maps, masks, batch, at, pairs, ids):
        cfg = self.config
        frame = pd.DataFrame(
            {"decision": name, "method": method, "image_id": ids[batch.rows], "row": batch.rows}
        )
        if pairs is not None:
            frame["pair_kind"] = [pairs.kinds[i] for i in at]
        regional = self._regional(maps, masks[at], batch.rows)
        for key, values in regional.items():
            frame[key] = values
        for cut, (_classes, cue) in self.planted.items():
            if cue is not None:
                frame[f"cue:{cut}"] = cue.reindex(frame["image_id"]).to_numpy()
        curve = torch.sigmoid if isinstance(decision, AttributeDecision) else (lambda s: s)
        fr = falsify(decision, x, maps, extra=extra, curve=curve, settings=cfg.falsification)
        frame["drop_explanation"], frame["drop_random"] = fr.drop_explanation, fr.drop_random
        frame["falsified"] = fr.falsified
        frame["deletion_auc"], frame["insertion_auc"] = fr.deletion_auc, fr.insertion_auc
        for step, values in enumerate(fr.deletion.T):
            frame[f"deletion_{step}"] = values
        for step, values in enumerate(fr.insertion.T):
            frame[f"insertion_{step}"] = values
        return frame

    def _regional(self, maps, masks, rows) -> dict[str, np.ndarray | float]:
        """Regional columns of a batch: metrics against ``masks``, the mass share of each region
        group and planted region."""
        columns = dict(regional_metrics(maps, masks, top_fraction=self.config.top_fraction))
        label_maps = np.asarray(self.labels.labels[rows])
        for group, classes in ANALYSIS_REGION_GROUPS.items():
            columns[f"share:{group}"] = mass_share(maps, class_masks(label_maps, classes))
        for cut, (classes, _cue) in self.planted.items():
            planted = class_masks(label_maps, classes)
            columns[f"planted:{cut}"] = mass_share(maps, planted)
            columns[f"planted_area:{cut}"] = planted.mean((1, 2))
        return columns
