"""``celebalab embed evaluate EMB``: how well an embedding recognises faces, beside two baselines.

Why baselines on the same images: a figure such as "mAP@R 0.6" means little alone. Each metric
of :mod:`celebalab.metrics.recognition` is computed for the embedding and, on exactly the same
images, identities and pairs, for

- **pixel PCA**: the images decoded small (``pixel_size`` px, the set's crop), flattened and
  projected on their first ``pca_components`` principal components (scikit-learn's PCA, fitted
  on the evaluated images themselves: unsupervised, no identity used), compared by cosine;
- **attribute probabilities**: the 40 predicted probabilities of an attribute classifier (the
  set's own, or those of another set of the same images, ``probabilities=``), compared by
  Euclidean distance as seed 002 does.

A baseline that cannot be computed (no image folder, no probabilities) is reported as absent
with the reason, never silently dropped. Outputs go to ``EMB/eval_<split>/``: ``metrics.json``,
``metrics.csv``, ``roc.png`` and a self-contained ``report.html``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from celebalab.datasets.schema import PARTITION_CODES
from celebalab.embeddings.config import EvaluateOptions
from celebalab.embeddings.store import EmbeddingSet, EmbeddingSetError, load_embeddings
from celebalab.metrics.recognition import (
    FARS,
    far_key,
    identification_metrics,
    make_pairs,
    pair_scores,
    roc_metrics,
    roc_points,
)

#: Metric columns in report order.
COLUMNS: tuple[str, ...] = (
    "map_at_r", "precision_at_1", "recall_at_1", "recall_at_5", "recall_at_10", "cmc_rank_1",
    "cmc_rank_5", "roc_auc", "eer", *(far_key(f) for f in FARS),
)  # fmt: skip


@dataclass
class EmbeddingEvaluation:
    """Metrics of one embedding set (and its baselines) on one split."""

    emb: EmbeddingSet
    split: str
    table: pd.DataFrame  # one row per method, COLUMNS (+ counts)
    roc: dict[str, tuple[np.ndarray, np.ndarray]]
    notes: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def out_dir(self) -> Path:
        """Where :func:`write_evaluation` puts the files."""
        return Path(self.emb.path) / f"eval_{self.split}"


def evaluate_embeddings(
    emb: EmbeddingSet | str | Path,
    split: str = "test",
    *,
    probabilities: EmbeddingSet | str | Path | None = None,
    max_pairs: int = 2_000_000,
    pixel_size: int = 32,
    pca_components: int = 128,
    seed: int = 0,
    baselines: bool = True,
) -> EmbeddingEvaluation:
    """Identification and verification metrics of ``emb`` on ``split``, with the baselines
    (arguments checked as :class:`~celebalab.embeddings.config.EvaluateOptions`)."""
    EvaluateOptions(split=split, max_pairs=max_pairs, pixel_size=pixel_size,
                    pca_components=pca_components, seed=seed, baselines=baselines)  # fmt: skip
    emb = load_embeddings(emb) if isinstance(emb, (str, Path)) else emb
    rows = _split_rows(emb, split)
    notes: list[str] = []
    methods: dict[str, tuple[np.ndarray, str]] = {"embedding": (np.asarray(emb.vectors[rows]),
                                                                "cosine")}  # fmt: skip
    skipped: list[dict[str, str]] = []
    if baselines:
        keep, pixels, skipped, why = _pixel_baseline(emb, rows, pixel_size, pca_components, seed)
        if why:
            notes.append(f"pixel PCA baseline absent: {why}")
        elif len(keep) < len(rows):
            rows = rows[keep]
            methods = {n: (v[keep], m) for n, (v, m) in methods.items()}
            notes.append(f"{len(skipped)} unreadable image(s) left out of every method")
        if pixels is not None:
            methods["pixel PCA"] = (pixels, "cosine")
        probs, why = _probability_baseline(emb, rows, probabilities)
        if why:
            notes.append(f"attribute-probability baseline absent: {why}")
        else:
            methods["attribute probabilities"] = (probs, "euclidean")
    identities = emb.meta["identity"].to_numpy(np.int64)[rows]
    if (identities < 0).all():
        raise EmbeddingSetError(f"{emb.path}: no identities in this set; nothing to evaluate")
    if len(np.unique(identities[identities >= 0])) < 2:
        notes.append(f"all {len(rows)} images are of one identity: identification and "
                     "verification are undefined (no wrong answer possible): NaN")  # fmt: skip
    pairs = make_pairs(identities, max_pairs=max_pairs, seed=seed)
    if pairs.sampled:
        notes.append(
            f"verification on {len(pairs.first):,} pairs: every positive pair (or "
            f"{max_pairs // 2:,} of them) plus random negative pairs, seed {seed}"
        )
    records, roc = [], {}
    for name, (vectors, metric) in methods.items():
        roc[name] = roc_points(pairs.same, pair_scores(vectors, pairs, metric))
        record = {"method": name, "similarity": metric,
                  **identification_metrics(vectors, identities, metric),
                  **roc_metrics(pairs.same, *roc[name])}  # fmt: skip
        records.append(record)
    table = pd.DataFrame(records).set_index("method")
    people = len(np.unique(identities[identities >= 0]))
    settings = {"split": split, "images": len(rows), "identities": people,
                "max_pairs": max_pairs, "pixel_size": pixel_size,
                "pca_components": pca_components, "seed": seed}  # fmt: skip
    return EmbeddingEvaluation(emb=emb, split=split, table=table, roc=roc, notes=notes,
                               skipped=skipped, settings=settings)  # fmt: skip


def _split_rows(emb: EmbeddingSet, split: str) -> np.ndarray:
    partition = emb.meta["partition"].to_numpy()
    if split == "all":
        return np.arange(len(emb))
    if (partition < 0).all():
        raise EmbeddingSetError(
            f"{emb.path}: the set has no partition; use --split all, or import it with "
            "--root CELEBA to take the partition from the dataset"
        )
    rows = np.flatnonzero(partition == PARTITION_CODES[split])
    if len(rows) == 0:
        raise EmbeddingSetError(f"{emb.path}: no image of split {split!r} in this set")
    return rows


def _pixel_baseline(
    emb: EmbeddingSet, rows: np.ndarray, size: int, components: int, seed: int
) -> tuple[np.ndarray, np.ndarray | None, list[dict[str, str]], str]:
    """(kept positions, PCA projections or None, unreadable images, why absent)."""
    from sklearn.decomposition import PCA

    from celebalab.models.inference import decode_batches

    if emb.image_dir is None or not emb.image_dir.is_dir():
        return np.arange(len(rows)), None, [], "the set names no image folder"
    crop = emb.info.source.crop or "center"
    ids = emb.meta["image_id"].to_numpy()[rows]
    paths = [emb.image_dir / str(i) for i in ids]
    kept, images, failed = [], [], []
    for positions, batch, bad in decode_batches(paths, size, crop, batch_size=256):
        kept.append(positions)
        images.append(batch.reshape(len(batch), -1))
        failed.extend({"image_id": str(ids[p]), "reason": r} for p, r in bad)
    keep = np.concatenate(kept)
    if len(keep) < 3:
        return np.arange(len(rows)), None, failed, "fewer than 3 readable images"
    x = np.concatenate(images).astype(np.float32) / 255.0
    n = min(components, x.shape[0] - 1, x.shape[1])
    projected = PCA(n_components=n, random_state=seed, svd_solver="randomized").fit_transform(x)
    return keep, projected.astype(np.float32), failed, ""


def _probability_baseline(
    emb: EmbeddingSet, rows: np.ndarray, other: EmbeddingSet | str | Path | None
) -> tuple[np.ndarray | None, str]:
    if other is None:
        probs = emb.probabilities()
        if probs is None:
            return None, (
                "the set holds no attribute probabilities (pass --probabilities with "
                "a set extracted from an attribute classifier on the same images)"
            )
        return probs[rows], ""
    other = load_embeddings(other) if isinstance(other, (str, Path)) else other
    probs = other.probabilities()
    if probs is None:
        return None, f"{other.path} holds no attribute probabilities"
    position = pd.Series(np.arange(len(other)), index=other.meta["image_id"])
    found = position.reindex(emb.meta["image_id"].to_numpy()[rows])
    if found.isna().any():
        missing = found.index[found.isna()][0]
        return None, f"{other.path} lacks {int(found.isna().sum())} image(s), e.g. {missing}"
    return probs[found.to_numpy(np.int64)], ""


# ---------------------------------------------------------------- outputs


def write_evaluation(result: EmbeddingEvaluation, overwrite: bool = False) -> dict[str, Path]:
    """``metrics.json``, ``metrics.csv``, ``roc.png``, ``report.html`` in ``result.out_dir``."""
    from celebalab.io import write_bytes_atomic, write_json_atomic, write_text_atomic
    from celebalab.reports.html import Report, figure_png

    out = result.out_dir
    if (out / "metrics.json").exists() and not overwrite:
        raise EmbeddingSetError(f"{out / 'metrics.json'}: exists; use --overwrite to replace it")
    out.mkdir(parents=True, exist_ok=True)
    paths = {k: out / n for k, n in (("json", "metrics.json"), ("csv", "metrics.csv"),
                                     ("png", "roc.png"), ("html", "report.html"))}  # fmt: skip
    doc = {"embeddings": str(result.emb.path), "fingerprint": result.emb.fingerprint,
           **result.settings, "notes": result.notes, "unreadable": result.skipped,
           "methods": result.table.to_dict(orient="index")}  # fmt: skip
    write_json_atomic(paths["json"], doc)
    write_text_atomic(paths["csv"], result.table.to_csv())
    write_bytes_atomic(paths["png"], figure_png(roc_figure(result)))
    report = Report(title="celebalab embed evaluate",
                    subtitle=f"{result.emb.path} · split {result.split}",
                    summary=recognition_summary(result))  # fmt: skip
    evaluation_section(report.section("Face recognition"), result)
    report.write(paths["html"])
    return paths


def roc_figure(result: EmbeddingEvaluation) -> Any:
    """Verification ROC of every method (log false-accept axis)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.2, 4.0))
    for name, (fpr, tpr) in result.roc.items():
        if not len(fpr):
            continue
        auc = result.table.loc[name, "roc_auc"]
        ax.plot(np.maximum(fpr, 1e-6), tpr, label=f"{name} (AUC {auc:.3f})")
    ax.set_xscale("log")
    ax.set_xlim(1e-4, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("false accept rate (different people accepted)")
    ax.set_ylabel("true accept rate (same person accepted)")
    ax.set_title(f"verification ROC, split {result.split}", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    if ax.get_lines():
        ax.legend(fontsize=8, loc="lower right")
    return fig


def recognition_summary(result: EmbeddingEvaluation) -> str:
    """Two sentences for the report's top: what was measured, and how to read it."""
    s, table = result.settings, result.table
    first = table.iloc[0]
    versus = ""
    if "pixel PCA" in table.index:
        versus = f" (raw pixels: {table.loc['pixel PCA', 'map_at_r']:.3f})"
    return (
        f"The embeddings identified and verified {s['identities']:,} people in "
        f"{s['images']:,} {result.split} images: each image queried all the others, and every "
        f"pair was judged same or different person; mAP@R {first['map_at_r']:.3f}{versus}, "
        f"ROC AUC {first['roc_auc']:.3f}. The further the embedding sits above the baselines "
        "on the same images, the better it tells these people apart; 1.0 is perfect."
    )


def evaluation_section(sec: Any, result: EmbeddingEvaluation) -> Any:
    """Add the metric table, the ROC and the notes to a report section."""
    s = result.settings
    sec.text(f"{s['images']:,} images of {s['identities']:,} people (split {result.split}). "
             "Identification: each image queries the others (mAP@R, precision@1, recall@k: a "
             "same-person image among the k nearest; CMC rank-k: the right person among the k "
             "best-scoring people). Verification: same-person vs different-person pairs "
             "(ROC AUC, equal error rate, true-accept rate at a false-accept rate).")  # fmt: skip
    shown = result.table[[c for c in ("similarity", *COLUMNS) if c in result.table.columns]]
    sec.table(shown.T.reset_index().rename(columns={"index": "metric"}), index=False)
    from celebalab.reports.html import figure_png, img_tag

    sec.raw(img_tag(figure_png(roc_figure(result)), alt="verification ROC"))
    for note in result.notes:
        sec.text(note, note=True)
    return sec
