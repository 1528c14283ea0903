"""``stats``: compute every attribute statistic of a table; write tables, summary and report."""

from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from celebalab.analysis._clustering import DEFAULT_KS, cluster_attributes
from celebalab.analysis._frequencies import attribute_frequencies
from celebalab.analysis._inputs import attribute_matrix, partition_codes, select_partition
from celebalab.analysis._predictability import PROTOCOLS, run_protocol
from celebalab.analysis.associations import compute_associations, top_pairs
from celebalab.analysis.config import StatsOptions
from celebalab.analysis.result import StatsResult
from celebalab.datasets.schema import ATTRIBUTE_NAMES, PARTITION_NAMES
from celebalab.io import atomic_path, write_json_atomic
from celebalab.rundir import RunKind, RunOutput, open_output, writing

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from celebalab.datasets.dataset import DatasetLike

#: The files of ``stats`` (``--overwrite`` replaces these and leaves anything else in ``--out``).
STATS_OUTPUT = RunKind(
    "statistics",
    manifest="summary.json",
    outputs=(
        "frequencies.csv", "conditional_probability.csv", "phi.csv", "lift.csv", "top_pairs.csv",
        "predictability_*.csv", "clusters_sweep.csv", "cluster_profiles.csv",
        "centroid_distances.csv", "cluster_assignments.parquet", "report.html",
    ),
)  # fmt: skip


@contextmanager
def _timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    timings[stage] = round(time.perf_counter() - start, 3)


def compute_stats(
    df: pd.DataFrame,
    *,
    partition: str = "all",
    k: int | None = None,
    ks: Sequence[int] = DEFAULT_KS,
    sample: int = 5000,
    tsne: bool = True,
    images: bool = True,
    existing: set[str] | None = None,
) -> StatsResult:
    """Frequencies, associations, predictability (both protocols) and clusters of ``df``.

    ``df`` is a metadata table (``load_table``) or any frame with the 40 attribute columns as 0/1;
    ``partition`` restricts every statistic to one official partition; ``ks`` is the k-means
    sweep, ``k`` the number of clusters kept (default: best silhouette), ``sample`` the rows of
    the silhouette and t-SNE sample. Label statistics use every annotated row (they need no
    image); sample faces come only from files that exist (``existing``: their names, as a
    Dataset's scan knows them; None lists the image folder). Bad values are one
    :class:`~celebalab.options.ConfigError` (checked as
    :class:`~celebalab.analysis.config.StatsOptions`).
    """
    StatsOptions(partition=partition, k=k, sample=sample, tsne=tsne, images=images)
    options = {
        "partition": partition,
        "k": k,
        "ks": list(ks),
        "sample": sample,
        "tsne": tsne,
        "images": images,
    }
    table = select_partition(df, partition)
    X = attribute_matrix(table)
    partitions = partition_codes(table)
    attributes = list(ATTRIBUTE_NAMES)
    image_ids = (
        table["image_id"].astype(str).to_numpy()
        if "image_id" in table.columns
        else np.array([f"row {i + 1}" for i in range(len(table))])
    )
    timings: dict[str, float] = {}
    notes: list[str] = []
    with _timed(timings, "frequencies"):
        freq = attribute_frequencies(X, attributes, partitions)
    with _timed(timings, "associations"):
        assoc = compute_associations(X, attributes)
        pairs = top_pairs(assoc)
    predictability = {}
    for name in PROTOCOLS:
        with _timed(timings, f"predictability_{name}"):
            predictability[name] = run_protocol(name, X, partitions, attributes)
        if predictability[name].skipped:
            notes.append(f"{name} protocol skipped: {predictability[name].skipped}")
    clustering = None
    with _timed(timings, "clustering"):
        try:
            clustering = cluster_attributes(
                X, attributes, k=k, ks=ks, sample_size=sample, tsne=tsne
            )
            notes.extend(clustering.notes)
        except ValueError as err:
            notes.append(f"clustering skipped: {err}")
    result = StatsResult(
        dataset=_describe(table, partitions),
        options=options,
        frequencies=freq,
        associations=assoc,
        top_pairs=pairs,
        predictability=predictability,
        clustering=clustering,
        image_ids=image_ids,
        partitions=partitions,
        notes=notes,
        timings=timings,
    )
    if images and clustering is not None and "image_id" in table.columns:
        from celebalab.analysis._samples import cluster_image_strips

        with _timed(timings, "sample_images"):
            result.image_strips, image_notes = cluster_image_strips(
                image_ids,
                clustering.labels,
                table.attrs.get("image_dir"),
                image_ext=table.attrs.get("image_ext"),
                existing=existing,
            )
        notes.extend(image_notes)
    return result


def _describe(table: pd.DataFrame, partitions: np.ndarray) -> dict[str, Any]:
    sizes = {name: int((partitions == code).sum()) for code, name in PARTITION_NAMES.items()}
    sizes["unknown"] = int((partitions < 0).sum())
    return {
        "dataset": table.attrs.get("dataset", "unknown"),
        "layout": table.attrs.get("layout", "unknown"),
        "root": str(table.attrs.get("root", "")) or None,
        "image_dir": str(table.attrs.get("image_dir", "")) or None,
        "rows": len(table),
        "partition_sizes": sizes,
    }


def _write_frame(path: Path, frame: pd.DataFrame, index: bool = True) -> Path:
    with atomic_path(path) as tmp:
        if path.suffix == ".parquet":
            frame.to_parquet(tmp, index=index)
        else:
            frame.to_csv(tmp, index=index)
    return path


def write_stats(result: StatsResult, out: str | Path, overwrite: bool = False) -> dict[str, Path]:
    """Write the tables (CSV/Parquet), ``summary.json`` and ``report.html`` into ``out``.

    Everything is written into a hidden staging folder beside ``out`` and swapped in once
    complete (:mod:`celebalab.rundir`), so an interrupted run never leaves an ``out`` that looks
    finished. A non-empty ``out`` is replaced only with ``overwrite``, and then only the files
    ``stats`` writes.
    """
    with writing(_output(out, overwrite)) as output:
        files = _write_files(result, output.path)
    result.files = {name: output.final / path.name for name, path in files.items()}
    return result.files


def _output(out: str | Path, overwrite: bool) -> RunOutput:
    return open_output(out, STATS_OUTPUT, overwrite=overwrite, stage=True)


def _write_files(result: StatsResult, out: Path) -> dict[str, Path]:
    from celebalab.analysis._summary import stats_summary
    from celebalab.analysis.report import build_stats_report  # matplotlib: only when writing

    assoc = result.associations
    frames: dict[str, pd.DataFrame] = {
        "frequencies.csv": result.frequencies,
        "conditional_probability.csv": assoc.conditional,
        "phi.csv": assoc.phi,
        "lift.csv": assoc.lift,
        "top_pairs.csv": result.top_pairs,
    }
    for name, proto in result.predictability.items():
        if proto.table is not None:
            frames[f"predictability_{name}.csv"] = proto.table
    clustering = result.clustering
    if clustering is not None:
        frames["clusters_sweep.csv"] = clustering.sweep
        frames["cluster_profiles.csv"] = clustering.profiles.assign(size=clustering.sizes)
        frames["centroid_distances.csv"] = clustering.centroid_distances
        frames["cluster_assignments.parquet"] = cluster_assignments(result)
    unindexed = {"top_pairs.csv", "clusters_sweep.csv", "cluster_assignments.parquet"}
    files = {
        name: _write_frame(out / name, frame, index=name not in unindexed)
        for name, frame in frames.items()
    }
    files["report.html"] = out / "report.html"
    files["summary.json"] = out / "summary.json"
    result.files = files
    build_stats_report(result).write(files["report.html"])
    write_json_atomic(files["summary.json"], stats_summary(result))
    return files


def cluster_assignments(result: StatsResult) -> pd.DataFrame:
    """Cluster, PCA and (for the sampled rows) t-SNE coordinates of every row."""
    clustering = result.clustering
    assert clustering is not None
    frame = pd.DataFrame(
        {
            "image_id": result.image_ids,
            "partition": result.partitions,
            "cluster": clustering.labels,
            "pca_1": clustering.pca[:, 0],
            "pca_2": clustering.pca[:, 1],
        }
    )
    frame["in_sample"] = False
    frame.loc[clustering.sample, "in_sample"] = True
    if clustering.tsne is not None:
        for axis in (0, 1):
            column = np.full(len(frame), np.nan)
            column[clustering.sample] = clustering.tsne[:, axis]
            frame[f"tsne_{axis + 1}"] = column
    return frame


def run_stats(
    table_or_root: pd.DataFrame | DatasetLike,
    out: str | Path,
    overwrite: bool = False,
    **options: Any,
) -> StatsResult:
    """Take a dataset (or its root, or a DataFrame), compute everything, write to ``out``.

    ``options`` are those of :func:`compute_stats` (partition, k, ks, sample, tsne, images).
    ``out`` is checked before any work (a file, or a non-empty folder without ``overwrite``, is
    refused) and written as :func:`write_stats` does. The options are checked first (as
    :class:`~celebalab.analysis.config.StatsOptions`), before the dataset is read.
    """
    StatsOptions.from_dict({k: v for k, v in options.items() if k != "ks"}, "run_stats")
    _output(out, overwrite)
    if isinstance(table_or_root, pd.DataFrame):
        df, existing = table_or_root, None
    else:
        from celebalab.datasets.dataset import open_dataset

        dataset = open_dataset(table_or_root)
        df, existing = dataset.table, dataset.existing_files()
    result = compute_stats(df, existing=existing, **options)
    write_stats(result, out, overwrite)
    return result
