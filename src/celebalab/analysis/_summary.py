"""The JSON summary of a ``stats`` run: headline numbers, per-attribute metrics, notes, timings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from celebalab.analysis._predictability import METRIC_COLUMNS

if TYPE_CHECKING:
    import pandas as pd

    from celebalab.analysis.result import StatsResult


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain-Python dicts (numpy scalars converted; NaN stays NaN → null in JSON)."""
    return frame.to_dict(orient="records")


def stats_summary(result: StatsResult) -> dict[str, Any]:
    """Everything a script needs without parsing the CSVs; undefined numbers are null."""
    freq = result.frequencies
    by_share = freq["share"].sort_values()
    summary: dict[str, Any] = {
        "dataset": result.dataset,
        "options": result.options,
        "frequencies": {
            "rarest": {a: float(s) for a, s in by_share.head(5).items()},
            "most_common": {a: float(s) for a, s in by_share.tail(5)[::-1].items()},
            "majority_class_over_90_percent": [str(a) for a in freq.index[freq["trivial_over_90"]]],
            "single_class": [str(a) for a in freq.index[freq["imbalance_ratio"].isna()]],
            "imbalance_ratio": freq["imbalance_ratio"].to_dict(),
        },
        "top_pairs": _records(result.top_pairs),
        "predictability": {
            name: _protocol_summary(proto) for name, proto in result.predictability.items()
        },
        "clustering": _clustering_summary(result),
        "notes": list(result.notes),
        "timings_s": dict(result.timings),
        "files": {name: path.name for name, path in result.files.items()},
    }
    return summary


def _protocol_summary(proto: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"description": proto.description, "skipped": proto.skipped}
    if proto.table is None:
        return out
    metrics = proto.table[list(METRIC_COLUMNS)]
    means = metrics.mean()
    # The baseline is defined for every attribute, the model's accuracy only where it could be
    # fitted: average both over the same attributes so that they can be compared.
    means["baseline_accuracy"] = metrics["baseline_accuracy"][metrics["accuracy"].notna()].mean()
    out.update(
        n_train=proto.n_train,
        n_test=proto.n_test,
        mean_over_defined=means.map(float).to_dict(),
        undefined_count=metrics.isna().sum().map(int).to_dict(),
        solver={
            "newton_iterations": proto.fit.iterations,
            "max_mean_gradient": proto.fit.max_gradient,
        },
        per_attribute={
            attr: row.to_dict()
            for attr, row in proto.table.drop(columns=["n_train", "n_test"]).iterrows()
        },
    )
    return out


def _clustering_summary(result: StatsResult) -> dict[str, Any]:
    clustering = result.clustering
    if clustering is None:
        return {"skipped": True}
    return {
        "k": clustering.k,
        "k_source": clustering.k_source,
        "sweep": _records(clustering.sweep),
        "sizes": [int(s) for s in clustering.sizes],
        "sample_size": int(clustering.sample.size),
        "pca_explained_variance": [float(v) for v in clustering.pca_explained],
        "tsne": clustering.tsne is not None,
    }
