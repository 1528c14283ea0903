"""The stats HTML report: every figure and table of a :class:`StatsResult`, one offline file."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from celebalab.analysis import _figures as figures
from celebalab.analysis._predictability import METRIC_COLUMNS, ProtocolResult
from celebalab.reports.html import Report, Section

if TYPE_CHECKING:
    from celebalab.analysis.result import StatsResult


_PROTOCOL_TITLES = {"random_split": "random 80/20 split", "official": "official partition"}


def build_stats_report(result: StatsResult) -> Report:
    """A report whose sections can stand alone or be appended to another (``Report.extend``)."""
    data = result.dataset
    sizes = ", ".join(f"{k} {v:,}" for k, v in data["partition_sizes"].items() if v)
    report = Report(
        title="Attribute statistics",
        subtitle=(
            f"{data['dataset']} ({data['layout']}) · {data['rows']:,} images · "
            f"partition: {result.options['partition']} · {sizes}"
        ),
        summary=(
            f"This report describes the 40 attribute labels of {data['rows']:,} images: how often "
            "each occurs, which occur together, how well each is predicted from the other 39, "
            "and which groups of images share a profile. Read every figure beside its baseline: "
            "an attribute that always guessing the majority class already gets right is "
            "imbalanced, and one predicted barely better than that carries information of its own."
        ),
    )
    _frequency_section(report.section("Attribute frequencies"), result)
    _association_section(report.section("Co-occurrence: P(A | B), phi, lift"), result)
    for name, proto in result.predictability.items():
        _predictability_section(report.section(f"Predictability ({_PROTOCOL_TITLES[name]})"), proto)
    _cluster_section(report.section("Clusters of attribute vectors"), result)
    _notes_section(report.section("Notes and timings"), result)
    return report


def _frequency_section(sec: Section, result: StatsResult) -> None:
    freq = result.frequencies
    trivial = list(freq.index[freq["trivial_over_90"]])
    sec.text(
        f"{len(trivial)} of {len(freq)} attributes are so imbalanced that always predicting the "
        f"majority class is already more than 90 % accurate: {', '.join(trivial) or 'none'}. "
        "For these, accuracy says little; read recall, F1, balanced accuracy and AUC instead."
    )
    sec.figure(figures.frequency_figure(freq), alt="attribute frequencies")
    shown = freq.drop(columns=[c for c in freq.columns if c.startswith("count_")])
    sec.table(shown.sort_values("share"), float_format="{:.3f}")
    sec.text(
        "imbalance_ratio = majority count / minority count; undefined for a single-class "
        "attribute.",
        note=True,
    )


def _association_section(sec: Section, result: StatsResult) -> None:
    assoc = result.associations
    order = assoc.order
    sec.text(
        "Rows are attribute A, columns attribute B, both in the same clustered order (average "
        "linkage on 1 − phi) so groups of attributes that travel together form blocks. "
        "P(A | B) = P(A and B) / P(B), diagonal 1; grey cells are undefined (B never occurs)."
    )
    sec.figure(
        figures.heatmap_figure(
            assoc.conditional,
            order,
            "Conditional probability P(A | B)",
            "viridis",
            0.0,
            1.0,
            "P(row | column)",
            xlabel="B (given)",
            ylabel="A",
        ),
        alt="conditional probability heatmap",
    )
    sec.figure(
        figures.heatmap_figure(assoc.phi, order, "Phi correlation", "RdBu_r", -1.0, 1.0, "phi"),
        alt="phi correlation heatmap",
    )
    # Pairs never seen together (lift 0) are the most negative association, not undefined: they
    # take the bottom colour, and only lifts that are undefined (NaN) stay grey.
    log_lift = np.log2(assoc.lift.clip(lower=2.0**-3))
    sec.figure(
        figures.heatmap_figure(
            log_lift,
            order,
            "Lift P(A, B) / (P(A) P(B)), log2 scale",
            "PuOr_r",
            -3.0,
            3.0,
            "log2 lift (0 = independent, -3 includes never together)",
        ),
        alt="lift heatmap",
    )
    sec.heading("Most and least associated pairs (by phi)")
    sec.table(result.top_pairs, index=False)


def _predictability_section(sec: Section, proto: ProtocolResult) -> None:
    sec.text(f"Protocol: {proto.description}.")
    if proto.table is None:
        sec.text(f"Skipped: {proto.skipped}.")
        return
    fit = proto.fit
    sec.text(
        f"Each attribute is predicted from the other 39 by L2 logistic regression (C = 1, as "
        f"scikit-learn's default) fitted on {proto.n_train:,} rows and scored on "
        f"{proto.n_test:,}; all 40 models fitted together by Newton's method "
        f"({fit.iterations} iterations). The baseline always predicts the training majority "
        "class: compare accuracy with it before believing it. 'undefined' marks metrics with no "
        "meaning on these rows (e.g. precision when nothing is predicted positive).",
    )
    sec.figure(
        figures.predictability_figure(proto.table, f"Predictability ({proto.name})"),
        alt="predictability",
    )
    columns = ["positives_test", *METRIC_COLUMNS, "note"]
    sec.table(proto.table[columns].sort_values("gain_over_baseline"), float_format="{:.3f}")


def _cluster_section(sec: Section, result: StatsResult) -> None:
    clustering = result.clustering
    if clustering is None:
        sec.text("Clustering was skipped; see the notes.")
        return
    k = clustering.k
    sec.text(
        f"Attributes standardised, MiniBatchKMeans (n_init = 3, random_state = 42) for each k on "
        f"all rows; silhouette on a fixed sample of {clustering.sample.size:,} rows. "
        f"Chosen k = {k} ({clustering.k_source})."
    )
    sec.figure(figures.sweep_figure(clustering.sweep, k), alt="elbow and silhouette")
    sec.table(clustering.sweep.set_index("k"), float_format="{:.4g}")
    sec.figure(
        figures.profile_figure(clustering.profiles, result.associations.order, clustering.sizes),
        alt="cluster profiles",
    )
    sec.figure(figures.distance_figure(clustering.centroid_distances), alt="centroid distances")
    sample = clustering.sample
    explained = ", ".join(f"{v:.1%}" for v in clustering.pca_explained)
    panels = [(f"PCA (explained variance {explained})", clustering.pca[sample], "PC")]
    if clustering.tsne is not None:
        panels.append(("t-SNE (openTSNE)", clustering.tsne, "t-SNE"))
    sec.figure(
        figures.maps_figure(panels, clustering.labels[sample], k),
        alt="2-D maps coloured by cluster",
    )
    sec.text(f"Maps show the {sample.size:,} sampled rows.", note=True)
    if result.image_strips:
        sec.heading("Sample images per cluster")
        for cluster, strip in sorted(result.image_strips.items()):
            sec.text(f"Cluster {cluster} ({clustering.sizes[cluster]:,} images)")
            sec.image(strip, alt=f"sample images of cluster {cluster}")


def _notes_section(sec: Section, result: StatsResult) -> None:
    for note in result.notes or ["no warnings"]:
        sec.text(note, note=True)
    timings = pd.DataFrame({"seconds": pd.Series(result.timings, dtype=np.float64)})
    sec.table(timings, float_format="{:.2f}")
