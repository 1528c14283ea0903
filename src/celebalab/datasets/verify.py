"""``data verify`` and ``data info``: is a dataset copy complete and readable, and what is in it.

Verification never stops at the first problem and never crashes on bad data: every check runs
on its own and every failure becomes a listed problem. Problems are grouped by category; each
listing is capped, the totals are not.
"""

from __future__ import annotations

import os
import random
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from PIL import Image
from rich.console import Console
from rich.table import Table

from celebalab import _progress, stopping
from celebalab.datasets._agreement import check_copies
from celebalab.datasets.annotations import parse_annotation
from celebalab.datasets.config import VerifyOptions
from celebalab.datasets.dataset import DatasetLike, open_dataset
from celebalab.datasets.decode import image_error_text
from celebalab.datasets.layout import (
    IMAGE_EXTENSIONS,
    DatasetLayout,
    detect_layout,
    image_file_name,
)
from celebalab.datasets.masks import IMAGES_PER_MASK_FOLDER, MASK_PART_NAMES, scan_mask_folder
from celebalab.datasets.schema import (
    ATTRIBUTE_NAMES,
    CELEBA_NUM_IMAGES,
    CELEBA_PARTITION_SIZES,
    CELEBAMASK_HQ_NUM_IMAGES,
    CELEBAMASK_HQ_PARTITION_SIZES,
    PARTITION_NAMES,
    unknown_name_message,
)
from celebalab.errors import CelebalabError, DataFormatError

#: Problem categories, in report order.
CATEGORIES: tuple[str, ...] = (
    "layout",
    "annotations",
    "missing_images",
    "extra_images",
    "unreadable_images",
    "masks_wrong_size",
    "unreadable_masks",
    "images_without_mask",
    "unknown_mask_files",
    "misplaced_mask_files",
    "check_failed",
)
_POOL_THRESHOLD = 256  # fewer files than this are checked in-process


@dataclass
class VerifyReport:
    """What ``data verify`` found; ``ok`` when no category has a problem."""

    root: str
    layout: str | None = None
    counts: dict[str, Any] = field(default_factory=dict)
    problems: dict[str, list[str]] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)
    max_listed: int = 20

    @property
    def ok(self) -> bool:
        return not any(self.totals.values())

    def add(self, category: str, messages: Iterable[str], total: int | None = None) -> None:
        """Record problems; ``total`` counts ones not passed in (e.g. capped by a parser)."""
        listed = self.problems.setdefault(category, [])
        messages = list(messages)
        room = max(self.max_listed - len(listed), 0)
        listed.extend(messages[:room])
        self.totals[category] = self.totals.get(category, 0) + (
            len(messages) if total is None else total
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "layout": self.layout,
            "ok": self.ok,
            "counts": self.counts,
            "totals": {c: self.totals.get(c, 0) for c in CATEGORIES},
            "problems": {c: self.problems.get(c, []) for c in CATEGORIES},
        }


@_progress.legacy_progress
def verify_dataset(
    root: str | Path,
    sample: int | None = None,
    workers: int | None = None,
    seed: int = 0,
    max_listed: int = 20,
) -> VerifyReport:
    """Check a dataset copy: annotations, image files, decodability and (HQ) masks.

    ``sample`` decodes only that many randomly chosen images (and their masks) instead of all;
    ``workers`` processes decode (default: all cores); ``max_listed`` problems are listed per
    category (0: totals only). Bad values are one :class:`~celebalab.options.ConfigError`
    (checked as :class:`~celebalab.datasets.config.VerifyOptions`).
    """
    VerifyOptions(sample=sample, workers=workers, seed=seed, max_listed=max_listed)
    report = VerifyReport(str(root), max_listed=max_listed)
    try:
        layout = detect_layout(root)
    except CelebalabError as err:
        report.add("layout", [str(err)])
        return report
    report.layout, report.root = layout.kind, str(layout.root)
    report.counts["annotation_set"] = layout.annotation_set
    ids, malformed = _guarded(
        report, "annotations", lambda: _check_annotations(layout, report)
    ) or (None, set())
    files = _guarded(
        report, "image files", lambda: _check_image_files(layout, ids, malformed, report)
    )
    to_decode = sorted(files or [])
    if sample is not None and sample < len(to_decode):
        to_decode = sorted(random.Random(seed).sample(to_decode, sample))
    report.counts["images_decoded"] = len(to_decode)
    _guarded(
        report,
        "image decoding",
        lambda: _check_images(layout, to_decode, workers, report),
    )
    if layout.dataset == "celebamask_hq":
        indices = [_hq_index(name) for name in to_decode]
        annotated = ids or []
        _guarded(
            report,
            "masks",
            lambda: _check_masks(layout, annotated, indices, workers, report),
        )
    return report


def _guarded(report: VerifyReport, what: str, check: Callable[[], Any]) -> Any:
    """Run one check; an unexpected exception is reported, never raised."""
    try:
        return check()
    except Exception as err:
        report.add("check_failed", [f"{what}: {type(err).__name__}: {err}"])
        return None


def _check_annotations(
    layout: DatasetLayout, report: VerifyReport
) -> tuple[list[str] | None, set[str]]:
    """Parse every annotation file, collecting all their problems.

    Returns the ids of the clean attribute rows (None when the attribute file has no readable
    row at all: comparing image files with it would only list every image as extra) and those
    of its malformed rows (already reported with their line, so not reported again as missing
    from the attribute file or as extra images).
    """
    frames, rejected, unreadable, faulty = {}, {}, set(), set()  # faulty: kinds with problems
    for kind, path in layout.files.items():
        try:
            result = parse_annotation(path, kind, max_problems=max(report.max_listed, 1))
        except DataFormatError as err:  # the file itself cannot be read
            report.add("annotations", [str(err)])
            frames[kind], rejected[kind] = pd.DataFrame({"image_id": []}), set()
            unreadable.add(kind)
            faulty.add(kind)
            continue
        report.add("annotations", [str(p) for p in result.problems], total=result.num_problems)
        frames[kind], rejected[kind] = result.frame, set(result.rejected_ids)
        if not result.ok:
            faulty.add(kind)
        if result.frame.empty and not result.ok:
            unreadable.add(kind)  # no row could be read: comparing its ids would only repeat that
    clean = {k: f for k, f in frames.items() if k not in faulty}  # twins parse only themselves
    report.add("annotations", [str(p) for p in check_copies(layout, clean)])
    attrs = frames["attributes"]
    ids = attrs["image_id"].tolist()
    report.counts["annotated_images"] = len(ids)
    known = set(ids) | rejected["attributes"]
    for kind, frame in frames.items():
        if kind in ("attributes", "hq_mapping") or kind in unreadable or "attributes" in unreadable:
            continue
        listed = set(frame["image_id"]) | rejected[kind]
        lacking = [i for i in ids if i not in listed]
        if lacking:
            report.add(
                "annotations",
                [
                    f"{layout.files[kind]}: {len(lacking)} annotated image(s) missing: "
                    + ", ".join(lacking[:5])
                ],
            )
        unknown = [i for i in frame["image_id"] if i not in known]
        if unknown:
            report.add(
                "annotations",
                [
                    f"{layout.files[kind]}: {len(unknown)} image(s) not in the attribute file: "
                    + ", ".join(unknown[:5])
                ],
            )
    if "partition" in frames:
        counts = frames["partition"]["partition"].value_counts().sort_index()
        report.counts["partitions"] = {PARTITION_NAMES[int(c)]: int(n) for c, n in counts.items()}
    if "identity" in frames:
        report.counts["identities"] = int(frames["identity"]["identity"].nunique())
    if layout.dataset == "celebamask_hq":
        report.counts.update(_hq_partitions(layout, report))
    report.counts["official_release"] = _completeness(layout.dataset, report.counts)
    return (None if "attributes" in unreadable else ids), rejected["attributes"]


def _completeness(dataset: str, counts: dict[str, Any]) -> str:
    """Whether the annotated images and partitions match the official release (a subset is
    fine, so this is a count, not a problem)."""
    total, sizes = (
        (CELEBAMASK_HQ_NUM_IMAGES, CELEBAMASK_HQ_PARTITION_SIZES)
        if dataset == "celebamask_hq"
        else (CELEBA_NUM_IMAGES, CELEBA_PARTITION_SIZES)
    )
    found = counts.get("annotated_images", 0)
    if found != total:
        return f"subset or incomplete: {found:,} of {total:,} images"
    if counts.get("partitions") != dict(sizes):
        official = ", ".join(f"{k}: {v:,}" for k, v in sizes.items())
        return f"all {total:,} images, but partitions differ from the official {official}"
    return f"complete: {total:,} images, official partitions"


def _hq_partitions(layout: DatasetLayout, report: VerifyReport) -> dict[str, Any]:
    """Partition counts (and identities) through the HQ→CelebA mapping, when the table loads."""
    try:
        dataset = open_dataset(layout.root)
    except DataFormatError as err:
        if err.path not in layout.files.values():  # e.g. the CelebA copy beside; the HQ files'
            report.add("annotations", [str(err)])  # own problems are listed already
        return {}
    table = dataset.table
    counts = table["partition"].value_counts().sort_index()
    out = {
        "partitions": {PARTITION_NAMES.get(int(c), "unknown"): int(n) for c, n in counts.items()},
        "partition_source": dataset.partition_source,
    }
    if (table["identity"] >= 0).any():
        out["identities"] = int(table.loc[table["identity"] >= 0, "identity"].nunique())
    return out


def _check_image_files(
    layout: DatasetLayout, ids: list[str] | None, malformed: set[str], report: VerifyReport
) -> list[str]:
    """Missing and extra image files (``malformed``: ids on bad attribute rows, neither);
    returns the names of annotated files that exist (every image file when ``ids`` is None:
    the attribute file could not be read, so there is nothing to compare with)."""
    with os.scandir(layout.image_dir) as entries:
        present = {
            e.name for e in entries if os.path.splitext(e.name)[1].lower() in IMAGE_EXTENSIONS
        }
    report.counts["image_files"] = len(present)
    if ids is None:
        report.counts["missing_and_extra_images"] = "not checked: no readable attribute rows"
        return sorted(present)
    expected = [image_file_name(i, layout.image_ext) for i in ids]
    expected_set = set(expected)
    missing = [name for name in expected if name not in present]
    report.add(
        "missing_images", [f"{layout.image_dir / n}: annotated but no file" for n in missing]
    )
    on_bad_rows = {image_file_name(i, layout.image_ext) for i in malformed}
    extra = sorted(present - expected_set - on_bad_rows)
    report.add("extra_images", [f"{layout.image_dir / n}: file not in annotations" for n in extra])
    return [name for name in expected if name in present]


def _check_images(
    layout: DatasetLayout,
    names: list[str],
    workers: int | None,
    report: VerifyReport,
) -> None:
    paths = [str(layout.image_dir / n) for n in names]
    sizes: Counter = Counter()
    bad = []
    for path, error, size in _map_files(check_image_file, paths, workers, "images"):
        if error is None:
            sizes[size] += 1
        else:
            bad.append(f"{path}: {error}")
    report.add("unreadable_images", bad)
    report.counts["image_sizes"] = {f"{w}x{h}": n for (w, h), n in sizes.most_common(5)}


def _check_masks(
    layout: DatasetLayout,
    ids: list[str],
    indices: list[int],
    workers: int | None,
    report: VerifyReport,
) -> None:
    """Mask files: unknown class names, wrong folder, images without masks, size, decodability."""
    if layout.mask_dir is None:
        report.add("images_without_mask", [f"{layout.root}: no CelebAMask-HQ-mask-anno folder"])
        return
    by_index: dict[int, list[str]] = {}
    unknown, misplaced = [], []
    for folder in sorted(p for p in layout.mask_dir.iterdir() if p.is_dir()):
        for path, index, part in scan_mask_folder(folder):
            if part not in MASK_PART_NAMES:
                unknown.append(
                    f"{path}: {unknown_name_message('mask class', part, MASK_PART_NAMES)}"
                )
            elif folder.name != str(index // IMAGES_PER_MASK_FOLDER):
                misplaced.append(f"{path}: belongs in folder {index // IMAGES_PER_MASK_FOLDER}")
            else:
                by_index.setdefault(index, []).append(str(path))
    report.add("unknown_mask_files", sorted(unknown))
    report.add("misplaced_mask_files", sorted(misplaced))
    annotated = [_hq_index(i) for i in ids]
    no_mask = [
        f"{layout.image_dir / i}: no mask file"
        for i, n in zip(ids, annotated, strict=True)
        if n not in by_index
    ]
    report.add("images_without_mask", no_mask)
    report.counts["mask_files"] = sum(len(v) for v in by_index.values())
    paths = [p for i in indices for p in sorted(by_index.get(i, []))]
    results = list(_map_files(check_mask_file, paths, workers, "masks"))
    sizes = Counter(size for _, error, size in results if error is None)
    report.add("unreadable_masks", [f"{p}: {e}" for p, e, _ in results if e is not None])
    if sizes:
        usual = sizes.most_common(1)[0][0]
        report.counts["mask_size"] = f"{usual[0]}x{usual[1]}"
        report.add(
            "masks_wrong_size",
            [
                f"{p}: {s[0]}x{s[1]}, the other masks are {usual[0]}x{usual[1]}"
                for p, e, s in results
                if e is None and s != usual
            ],
        )


def check_image_file(path: str) -> tuple[str, str | None, tuple[int, int] | None]:
    """Fully decode an image (truncation shows only then): ``(path, error or None, size)``."""
    try:
        with Image.open(path) as image:
            image.load()
            return path, None, image.size
    except Exception as err:
        return path, image_error_text(path, err), None


def check_mask_file(path: str) -> tuple[str, str | None, tuple[int, int] | None]:
    """Check a PNG mask's chunks (cheaper than decoding) and read its size."""
    try:
        with Image.open(path) as image:
            size = image.size
            image.verify()
        return path, None, size
    except Exception as err:
        return path, image_error_text(path, err), None


def _map_files(
    check: Callable[[str], tuple], paths: list[str], workers: int | None, what: str
) -> Iterable[tuple]:
    """Apply ``check`` to every path, in a process pool for large sets, with a progress bar."""
    bar = _progress.bar(total=len(paths), desc=f"checking {what}", unit="file")
    if len(paths) < _POOL_THRESHOLD or workers == 1:
        for path in paths:
            yield check(path)
            bar.update()
    else:
        chunksize = max(1, min(256, len(paths) // (8 * (workers or os.cpu_count() or 1))))
        with ProcessPoolExecutor(workers, initializer=stopping.reset_worker_signals) as pool:
            for result in pool.map(check, paths, chunksize=chunksize):
                yield result
                bar.update()
    bar.close()


def _hq_index(image_id: str) -> int:
    stem = os.path.splitext(os.path.basename(image_id))[0]
    return int(stem) if stem.isdigit() else -1


def dataset_info(root: DatasetLike, top: int = 5) -> dict[str, Any]:
    """A short summary: layout, counts, images present, partitions, identities, first image
    size, attributes."""
    dataset = open_dataset(root)
    table = dataset.table
    partitions = table["partition"].value_counts().sort_index()
    identities = table["identity"]
    frequency = table[list(ATTRIBUTE_NAMES)].mean().sort_values(ascending=False)
    info: dict[str, Any] = {
        "root": str(dataset.root),
        "dataset": dataset.name,
        "layout": dataset.kind,
        "images": len(table),
        "images_present": dataset.presence_line() or f"all {len(table):,}",
        "partitions": {
            PARTITION_NAMES.get(int(c), "unknown"): int(n) for c, n in partitions.items()
        },
        "identities": int(identities[identities >= 0].nunique())
        if (identities >= 0).any()
        else "no identity file",
        "partition_source": dataset.partition_source,
        "annotation_set": dataset.annotation_set,
        "most_frequent": {k: round(float(v), 4) for k, v in frequency.head(top).items()},
        "least_frequent": {k: round(float(v), 4) for k, v in frequency.tail(top).items()},
    }
    if dataset.present.any():
        first = dataset.image_path(int(dataset.present_rows[0]))
        _, error, size = check_image_file(str(first))
        info["first_image"] = f"{first.name}: " + (f"{size[0]}x{size[1]}" if size else error)
    return info


def print_report(report: VerifyReport, console: Console | None = None) -> None:
    """Readable summary of a :class:`VerifyReport` (counts, then each problem category)."""
    console = console or Console()
    counts = Table(title=f"{report.root} ({report.layout or 'unknown layout'})", show_header=False)
    for key, value in report.counts.items():
        counts.add_row(key.replace("_", " "), _plain(value))
    console.print(counts)
    for category in CATEGORIES:
        total = report.totals.get(category, 0)
        if not total:
            continue
        console.print(f"[bold red]{category.replace('_', ' ')}: {total}[/]")
        for message in report.problems.get(category, []):
            console.print(f"  {message}", markup=False, highlight=False, soft_wrap=True)
        if total > len(report.problems.get(category, [])):
            console.print(f"  … and {total - len(report.problems[category])} more")
    verdict = (
        "[bold green]OK[/]: no problems found"
        if report.ok
        else (f"[bold red]{sum(report.totals.values())} problem(s)[/]")
    )
    console.print(verdict)


def print_info(info: dict[str, Any], console: Console | None = None) -> None:
    """Print :func:`dataset_info` as a two-column table."""
    console = console or Console()
    table = Table(show_header=False, title=str(info.get("root", "")))
    for key, value in info.items():
        if key != "root":
            table.add_row(key.replace("_", " "), _plain(value))
    console.print(table)


def _plain(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    return str(value)
