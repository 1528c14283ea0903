"""``generate``: write a synthetic CelebA + CelebAMask-HQ pair in the official layouts.

The plan (identities, partitions, attributes, cues) is sampled up front as compact arrays; faces
are drawn in chunks by a process pool (``imap`` keeps file order) and every file is written once,
atomically, by the worker that draws it. Each image's randomness comes from (seed, index), so
the bytes do not depend on the number of workers.
"""

from __future__ import annotations

import io
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from celebalab import __version__, _progress, stopping
from celebalab.datasets.schema import ATTRIBUTE_NAMES, MASK_CLASS_VALUES, PARTITION_NAMES
from celebalab.datasets.synth import _writer as writer
from celebalab.datasets.synth._appearance import face_parameters
from celebalab.datasets.synth._counterfactual import write_counterfactual_pairs
from celebalab.datasets.synth._geometry import sketch_face
from celebalab.datasets.synth._regions import attribute_regions_json
from celebalab.datasets.synth._render import CUE_COLOURS, CUE_STRENGTH, Canvas, render
from celebalab.datasets.synth._sampling import (
    IMAGES_PER_IDENTITY,
    LABEL_NOISE_RATE,
    NOISY_ATTRIBUTES,
    TARGET_RATES,
    Plan,
    Shortcut,
    make_plan,
)
from celebalab.datasets.synth.config import SynthOptions
from celebalab.errors import CelebalabError
from celebalab.io import atomic_path, write_bytes_atomic, write_json_atomic

GENERATOR_VERSION = f"celebalab-synth/{__version__}+faces.1"
_GENERATED_DIRS = (
    "CelebA/img_align_celeba",
    "CelebA/synthetic_label_maps",
    "CelebA/synthetic_pairs",
    "CelebAMask-HQ/CelebA-HQ-img",
    "CelebAMask-HQ/CelebAMask-HQ-mask-anno",
)
_OUTPUT_NAMES = ("CelebA", "CelebAMask-HQ", "synthetic_truth.json")
#: Present while ``data synth`` writes: an interrupted run is redone by the same command.
_UNFINISHED = ".synth_unfinished"
_CLASS_OF_VALUE = {v: k for k, v in MASK_CLASS_VALUES.items()}


@dataclass(frozen=True)
class SynthConfig:
    """What to write; shared by every worker."""

    out: Path
    seed: int
    aligned_size: tuple[int, int] = (178, 218)
    hq_size: int = 256
    mask_size: int = 256


@dataclass
class SynthResult:
    """Where the synthetic dataset went and how long it took."""

    out: Path
    celeba_root: Path
    hq_root: Path
    truth_json: Path
    truth_table: Path
    n: int
    n_hq: int
    n_identities: int
    partition_counts: dict[str, int]
    seconds: float
    workers: int
    shortcuts: list[str] = field(default_factory=list)

    @property
    def images_per_second(self) -> float:
        return self.n / self.seconds if self.seconds > 0 else float("inf")


@dataclass
class _Chunk:
    config: SynthConfig
    start: int
    ident_index: np.ndarray
    attrs: np.ndarray
    hq_index: np.ndarray
    cue_tints: list[tuple]


def _jpeg(image, quality: int) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def _png(image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def _draw_chunk(chunk: _Chunk) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, list[dict]]:
    """Draw and write the images of one chunk; return landmarks, boxes, poses and render records."""
    cfg = chunk.config
    celeba, hq = cfg.out / "CelebA", cfg.out / "CelebAMask-HQ"
    aligned = Canvas.aligned(*cfg.aligned_size)
    hq_canvas = Canvas.hq(cfg.hq_size)
    k = len(chunk.attrs)
    marks, boxes, poses, records = (
        np.zeros((k, 10), int),
        np.zeros((k, 4), int),
        np.zeros((k, 3)),
        [],
    )
    for r in range(k):
        index = chunk.start + r
        face = face_parameters(
            cfg.seed, index, int(chunk.ident_index[r]), chunk.attrs[r], chunk.cue_tints[r]
        )
        sketch = sketch_face(face)
        drawn = render(face, aligned, sketch)
        name = writer.celeba_name(index)
        write_bytes_atomic(
            celeba / "img_align_celeba" / name, _jpeg(drawn.image, face.jpeg_quality)
        )
        write_bytes_atomic(
            celeba / "synthetic_label_maps" / name.replace(".jpg", ".png"), _png(drawn.labels)
        )
        marks[r] = np.rint(drawn.landmarks).astype(int).ravel()
        boxes[r] = np.rint(drawn.bbox).astype(int)
        poses[r] = (face.yaw, face.pitch, face.roll)
        j = int(chunk.hq_index[r])
        if j >= 0:
            big = render(face, hq_canvas, sketch, label_size=(cfg.mask_size, cfg.mask_size))
            write_bytes_atomic(
                hq / "CelebA-HQ-img" / f"{j}.jpg", _jpeg(big.image, face.jpeg_quality)
            )
            _write_masks(hq / "CelebAMask-HQ-mask-anno" / str(j // 2000), j, np.asarray(big.labels))
        records.append(face.record())
    return chunk.start, marks, boxes, poses, records


def _write_masks(folder: Path, j: int, labels: np.ndarray) -> None:
    """One 0/255 PNG per part present, named like the authors' ``00012_hair.png``."""
    from PIL import Image

    for value in np.unique(labels):
        if value == 0:
            continue
        mask = Image.fromarray(((labels == value) * 255).astype(np.uint8))
        write_bytes_atomic(folder / f"{j:05d}_{_CLASS_OF_VALUE[int(value)]}.png", _png(mask))


def _chunks(plan: Plan, config: SynthConfig, size: int, hq_index: np.ndarray) -> Iterator[_Chunk]:
    for start in range(0, plan.n, size):
        stop = min(plan.n, start + size)
        tints = [
            tuple((c, s.classes) for c, s in enumerate(plan.shortcuts) if plan.cues[i, c])
            for i in range(start, stop)
        ]
        yield _Chunk(
            config,
            start,
            plan.ident_index[start:stop],
            plan.true_attrs[start:stop],
            hq_index[start:stop],
            tints,
        )


def _truth_table(plan: Plan, hq_index: np.ndarray, start: int, records: list[dict]) -> pa.Table:
    """Per-image truth: ids, TRUE attributes, label noise, cues and render parameters."""
    stop = start + len(records)
    rows = slice(start, stop)
    cols: dict[str, object] = {
        "image_id": [writer.celeba_name(i) for i in range(start, stop)],
        "identity": plan.identity[rows],
        "partition": plan.partition[rows],
        "hq_index": hq_index[rows],
    }
    for a, name in enumerate(ATTRIBUTE_NAMES):
        cols[name] = plan.true_attrs[rows, a]
    names = np.asarray(ATTRIBUTE_NAMES)
    noise = plan.true_attrs[rows] != plan.labels[rows]  # this chunk's plan.label_noise
    cols["label_noise"] = [",".join(names[row].tolist()) for row in noise]
    for c, s in enumerate(plan.shortcuts):
        cols[f"cue:{s.name}"] = plan.cues[rows, c]
    for key in records[0]:
        cols[f"render_{key}"] = [rec[key] for rec in records]
    return pa.table(cols)


def check_output(out: Path, overwrite: bool) -> None:
    """Refuse a file as ``out``, and a dataset already in it unless ``overwrite`` (and then only
    one that ``data synth`` wrote: someone else's CelebA copy is never replaced)."""
    from celebalab.io import check_output_dir

    check_output_dir(out, "OUT", overwrite=True)
    existing = [out / name for name in _OUTPUT_NAMES if (out / name).exists()]
    if not existing or (out / _UNFINISHED).is_file():
        return
    if not overwrite:
        raise CelebalabError(
            f"{existing[0]}: a dataset is already there; pass --overwrite to replace it "
            "or choose another OUT"
        )
    if not (out / "synthetic_truth.json").is_file():
        raise CelebalabError(
            f"{existing[0]}: exists but was not written by data synth (no "
            f"{out / 'synthetic_truth.json'}); it is never replaced: choose another OUT"
        )


def _prepare(out: Path) -> None:
    """Remove images of an earlier (or interrupted) synthetic run in ``out`` (checked by
    :func:`check_output`) and mark ``out`` unfinished until :func:`generate` completes."""
    if (out / "synthetic_truth.json").exists() or (out / _UNFINISHED).exists():
        for sub in _GENERATED_DIRS:
            shutil.rmtree(out / sub, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / _UNFINISHED).touch()
    for sub in _GENERATED_DIRS:
        (out / sub).mkdir(parents=True, exist_ok=True)


@_progress.legacy_progress
def generate(
    out: str | Path,
    n: int,
    seed: int = 0,
    n_hq: int | None = None,
    hq_size: int = 256,
    mask_size: int | None = None,
    aligned_size: tuple[int, int] | str = (178, 218),
    shortcuts: tuple[str | Shortcut, ...] | list[str | Shortcut] = (),
    workers: int | None = None,
    chunk_size: int | None = None,
    images_per_identity: float = IMAGES_PER_IDENTITY,
    overwrite: bool = False,
    pairs: tuple[str, ...] | list[str] = (),
    pairs_per_attribute: int = 50,
) -> SynthResult:
    """Write ``n`` synthetic faces (``n_hq`` of them also in CelebAMask-HQ) under ``out``.

    ``images_per_identity`` sets how many faces share one identity's stable traits (CelebA ~20);
    fewer means more identities, so per-identity traits are seen on more distinct faces. A
    dataset already in ``out`` is replaced only with ``overwrite`` (and only one synth wrote).
    ``pairs`` (attribute names) adds exact counterfactual pairs of the first
    ``pairs_per_attribute`` test images (see :mod:`._counterfactual`). ``aligned_size`` is
    (width, height) or ``"WIDTHxHEIGHT"``. Bad values are one
    :class:`~celebalab.options.ConfigError` (checked as :class:`.config.SynthOptions`).
    """
    t0 = time.perf_counter()
    out = Path(out)
    text = aligned_size if isinstance(aligned_size, str) else "x".join(map(str, aligned_size))
    aligned = SynthOptions(
        n=n, seed=seed, n_hq=n_hq, hq_size=hq_size, mask_size=mask_size, aligned_size=text,
        workers=workers, images_per_identity=images_per_identity, pairs=tuple(pairs),
        pairs_per_attribute=pairs_per_attribute,
    ).aligned_pixels  # fmt: skip
    check_output(out, overwrite)
    cuts = tuple(s if isinstance(s, Shortcut) else Shortcut.parse(s) for s in shortcuts)
    plan = make_plan(n, seed, n_hq=n_hq, shortcuts=cuts, images_per_identity=images_per_identity)
    config = SynthConfig(out, seed, aligned, hq_size, mask_size or hq_size)
    workers = max(1, workers or os.cpu_count() or 1)
    size = chunk_size or int(np.clip(n // (4 * workers), 8, 128))
    n_chunks = -(-n // size)
    workers = min(workers, n_chunks)
    _prepare(out)
    marks, boxes, poses = np.zeros((n, 10), int), np.zeros((n, 4), int), np.zeros((n, 3))
    truth_table = out / "CelebA" / "synthetic_truth.parquet"
    hq_index = plan.hq_of
    with atomic_path(truth_table) as tmp:
        pq_writer = None
        with _results(_chunks(plan, config, size, hq_index), workers) as results:
            for start, m, b, p, records in _progress.bar(results, total=n_chunks, desc="synth",
                                                         unit="chunk"):  # fmt: skip
                stop = start + len(records)
                marks[start:stop], boxes[start:stop], poses[start:stop] = m, b, p
                table = _truth_table(plan, hq_index, start, records)
                pq_writer = pq_writer or pq.ParquetWriter(tmp, table.schema)
                pq_writer.write_table(table)
                stopping.check()
        pq_writer.close()
    _write_annotations(out, plan, marks, boxes, poses)
    if pairs:
        write_counterfactual_pairs(out, plan, seed, config.aligned_size, pairs, pairs_per_attribute)
    counts = {PARTITION_NAMES[p]: int(np.sum(plan.partition == p)) for p in range(3)}
    seconds = time.perf_counter() - t0
    truth = _truth_json(plan, config, counts, seconds)
    write_json_atomic(out / "synthetic_truth.json", truth)
    (out / _UNFINISHED).unlink()
    return SynthResult(
        out,
        out / "CelebA",
        out / "CelebAMask-HQ",
        out / "synthetic_truth.json",
        truth_table,
        n,
        len(plan.hq_orig),
        plan.n_identities,
        counts,
        seconds,
        workers,
        [s.name for s in cuts],
    )


class _results:
    """Context manager yielding chunk results in order: in-process for 1 worker, else a pool."""

    def __init__(self, chunks: Iterator[_Chunk], workers: int) -> None:
        self.chunks, self.workers, self.pool = chunks, workers, None

    def __enter__(self) -> Iterator:
        if self.workers == 1:
            return map(_draw_chunk, self.chunks)
        self.pool = stopping.worker_pool(self.workers)
        return self.pool.imap(_draw_chunk, self.chunks)

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.terminate() if exc[0] else self.pool.close()
            self.pool.join()


def _write_annotations(
    out: Path, plan: Plan, marks: np.ndarray, boxes: np.ndarray, poses: np.ndarray
) -> None:
    celeba, hq = out / "CelebA", out / "CelebAMask-HQ"
    writer.write_celeba_attributes(celeba / "list_attr_celeba.txt", plan.labels)
    writer.write_celeba_partition(celeba / "list_eval_partition.txt", plan.partition)
    writer.write_celeba_identity(celeba / "identity_CelebA.txt", plan.identity)
    writer.write_celeba_bbox(celeba / "list_bbox_celeba.txt", boxes)
    writer.write_celeba_landmarks(celeba / "list_landmarks_align_celeba.txt", marks)
    writer.write_hq_attributes(hq / "CelebAMask-HQ-attribute-anno.txt", plan.labels[plan.hq_orig])
    writer.write_hq_pose(hq / "CelebAMask-HQ-pose-anno.txt", poses[plan.hq_orig])
    writer.write_hq_mapping(hq / "CelebA-HQ-to-CelebA-mapping.txt", plan.hq_orig)


def _truth_json(plan: Plan, config: SynthConfig, counts: dict[str, int], seconds: float) -> dict:
    shortcuts = []
    for c, s in enumerate(plan.shortcuts):
        positive = plan.true_attrs[:, ATTRIBUTE_NAMES.index(s.attribute)] == 1
        rates = {}
        for p, name in PARTITION_NAMES.items():
            part = plan.partition == p
            rates[name] = {
                "cue_rate_positive": _rate(plan.cues[part & positive, c]),
                "cue_rate_negative": _rate(plan.cues[part & ~positive, c]),
            }
        colour = CUE_COLOURS[c % len(CUE_COLOURS)]
        shortcuts.append(
            {
                **s.to_json(),
                "tint_rgb": list(colour),
                "tint_strength": CUE_STRENGTH,
                "observed": rates,
            }
        )
    noise = plan.label_noise
    return {
        "generator": GENERATOR_VERSION,
        "seed": plan.seed,
        "n": plan.n,
        "n_hq": len(plan.hq_orig),
        "n_identities": plan.n_identities,
        "partition_counts": counts,
        "sizes": {
            "aligned": list(config.aligned_size),
            "hq": config.hq_size,
            "mask": config.mask_size,
        },
        "shortcuts": shortcuts,
        "label_noise": {
            "rate": LABEL_NOISE_RATE,
            "attributes": list(NOISY_ATTRIBUTES),
            "flipped_labels": int(noise.sum()),
            "images_with_flips": int(noise.any(axis=1).sum()),
            "per_image": "CelebA/synthetic_truth.parquet column label_noise",
        },
        "target_rates": dict(TARGET_RATES),
        "written_rates": {
            a: float(v) for a, v in zip(ATTRIBUTE_NAMES, plan.labels.mean(axis=0), strict=True)
        },
        "attribute_regions": attribute_regions_json(),
        "conventions": {
            "bbox": "list_bbox_celeba.txt holds the face box (skin contour) in the ALIGNED image; "
            "there are no in-the-wild images",
            "landmarks": "centres of the drawn eyes, nose tip, mouth corners in the aligned image; "
            "lefteye is the image-left eye (mask class r_eye)",
            "classes": "l_* classes are the person's left (image right); beards, stubble, blush, "
            "eye shadow, wrinkles, bags under the eyes are skin; sideburns are hair",
            "pose": "degrees; yaw > 0 turns the nose to image right, pitch > 0 tilts the face up, "
            "roll > 0 rotates clockwise in the image",
            "label_maps": "CelebA/synthetic_label_maps/<id>.png: class value per aligned pixel",
            "truth_table": "CelebA/synthetic_truth.parquet: TRUE drawn attributes (0/1), "
            "label_noise, cue:<shortcut>, render_* parameters per image",
        },
        "seconds": round(seconds, 3),
    }


def _rate(values: np.ndarray) -> float:
    return float(values.mean()) if len(values) else float("nan")
