"""The explain report: one self-contained HTML page (``celebalab.reports.html``).

Sections: what was run and how FR is defined; per-method table with CIs; box plots of regional
precision by method against the area baseline; per-region and per-attribute tables; FR vs
precision scatter with r; the study plan's expected results beside the measurements; overlays on
image and mask; deletion/insertion curves; pairs; planted shortcuts; speed; skipped images.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from celebalab.datasets.masks import label_map_to_color
from celebalab.explain.summary import ExplainResult
from celebalab.reports.html import Report

_TABLE_METRICS = (
    "regional_precision",
    "regional_recall",
    "components",
    "largest_component_share",
    "energy_pointing_game",
    "pointing_game",
    "relevance_rank_accuracy",
    "top_k_intersection",
    "auc",
    "falsification_rate",
    "deletion_auc",
    "insertion_auc",
    "area",
)


def _ci_text(s: dict) -> str:
    mean, lo, hi = s.get("mean"), s.get("ci_low"), s.get("ci_high")
    if mean is None or mean != mean:
        return "undefined"
    if lo is None or lo != lo:
        return f"{mean:.3f}"
    return f"{mean:.3f} [{lo:.3f}, {hi:.3f}]"


def _method_table(methods: dict) -> pd.DataFrame:
    rows = {
        m: {k: _ci_text(s[k]) for k in _TABLE_METRICS} | {"n": s["regional_precision"]["n"]}
        for m, s in methods.items()
    }
    return pd.DataFrame(rows).T


def build_explain_report(result: ExplainResult, outputs) -> Report:
    """The report's sections (the demo appends them to its own report)."""
    import matplotlib

    matplotlib.use("Agg")
    data = result
    report = Report(
        "celebalab explain", f"run {data.run} · data {data.root}", summary=_summary(data)
    )
    _overview(report.section("Explainability: what was measured"), data)
    sec = report.section("Regional precision by method")
    sec.text("Mean [bootstrap 95 % CI] over every (image, attribute) decision; n = decisions.")
    sec.table(_method_table(data.methods), index=True)
    if data.methods:
        sec.figure(_box_plot(outputs.per_image), alt="regional precision box plots")
    _regions_section(report.section("Per region and per attribute"), data)
    _fr_section(report.section("Falsification rate vs regional precision"), data)
    _hypotheses(report.section("The study plan's expected results beside the measurements"), data)
    _overlays(report.section("Heatmaps on image and mask (sample images)"), outputs)
    sec = report.section("Deletion and insertion curves")
    sec.text(
        "Mean decision probability (cosine for pairs) as the top-ranked pixels are removed "
        "(deletion, lower is better) or restored into the filled image (insertion, higher "
        "is better).",
        note=True,
    )
    sec.figure(_curves(outputs.per_image), alt="deletion and insertion curves")
    _pairs_and_shortcuts(report, data)
    _speed(report.section("Speed and skipped images"), data)
    return report


def write_report(result: ExplainResult, outputs, path: str | Path) -> Path:
    """Write the explain report to ``path`` (atomically)."""
    return build_explain_report(result, outputs).write(path)


def _summary(data: ExplainResult) -> str:
    """Two sentences: what was measured, and how to read it."""
    return (
        f"{len(data.methods)} attribution methods were scored on how much of their attribution "
        "falls inside the face region each decision is about (regional precision), and on "
        "whether removing the pixels they point at lowers the decision more than removing as "
        "many random pixels (the falsification rate, FR). A method earns trust when its "
        "regional precision is clearly above the region's area, which a uniform map scores, and "
        "its FR is low; the Random method shows what chance looks like."
    )


def _overview(sec, data: ExplainResult) -> None:
    cfg = data.config
    fr = cfg.falsification
    sec.text(
        f"{'Synthetic' if data.synthetic else 'Real'} data; methods: "
        f"{', '.join(cfg.methods)}; split {cfg.split}; up to {cfg.n} images per "
        f"attribute where the attribute is present and its region visible."
    )
    sec.text(
        "Regional precision: share of the positive attribution mass inside the attribute's "
        f"region. Regional recall: share of region pixels among the top {cfg.top_fraction:.0%} "
        "attribution pixels. Spatial coherence: connected components (8-connected) of the top "
        "pixels and the largest one's share. Area: the region's share of the image, what a "
        "uniform map scores."
    )
    sec.text(
        f"An explanation is falsified when removing its top {fr.top_fraction:.0%} pixels "
        f"({fr.fill} fill) lowers the decision score by no more than removing {fr.draws} "
        f"random equal-area pixel sets does on average, plus a margin of {fr.margin}. "
        "FR = share falsified."
    )
    regions = pd.DataFrame(
        {
            "attribute": list(data.regions),
            "region classes": [", ".join(c) for c in data.regions.values()],
        }
    )
    if len(regions):
        sec.table(regions, index=False)


def _box_plot(per_image: pd.DataFrame):
    import matplotlib.pyplot as plt

    from celebalab.explain.decisions import PAIR_DECISION

    frame = per_image[per_image["decision"] != PAIR_DECISION]
    methods = list(dict.fromkeys(frame["method"]))
    values = [
        frame.loc[frame["method"] == m, "regional_precision"].dropna().to_numpy() for m in methods
    ]
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(methods)), 3.6))
    ax.boxplot(values, tick_labels=methods, showmeans=True)
    area = frame.drop_duplicates(["decision", "image_id"])["area"].mean()
    ax.axhline(area, color="tab:red", ls="--", lw=1, label=f"area baseline (mean {area:.3f})")
    ax.set_ylabel("regional precision")
    top = max([np.quantile(v, 0.98) for v in values if len(v)] + [area])
    ax.set_ylim(0, min(1.0, 1.25 * top + 0.01))  # small regions: do not squash the boxes
    ax.legend(loc="upper right", fontsize=8)
    ax.tick_params(axis="x", rotation=30)
    return fig


def _regions_section(sec, data: ExplainResult) -> None:
    sec.text("Share of positive attribution mass in each analysis region group (mean).")
    sec.table(
        pd.DataFrame(
            {m: {g: s["mean"] for g, s in r.items()} for m, r in data.per_region.items()}
        ).T
    )
    rows = {}
    for decision, methods in data.per_decision.items():
        rows[decision] = {m: s["regional_precision"]["mean"] for m, s in methods.items()}
        rows[decision]["area"] = next(iter(methods.values()))["area"]["mean"]
    sec.text("Regional precision per decision (attribute, or pair) and method; area = baseline.")
    sec.table(pd.DataFrame(rows).T)


def _fr_section(sec, data: ExplainResult) -> None:
    import matplotlib.pyplot as plt

    across = data.fr_vs_precision.across_methods
    per = data.fr_vs_precision.per_image
    sec.text(
        f"FR source: {data.fr_source}. Across methods (n = {across['n']}): Pearson r = "
        f"{_num(across['pearson_r'])} [{_num(across['pearson_ci_low'])}, "
        f"{_num(across['pearson_ci_high'])}], "
        f"Spearman rho = {_num(across['spearman_rho'])} [{_num(across['spearman_ci_low'])}, "
        f"{_num(across['spearman_ci_high'])}]. Per image (falsified 0/1 vs precision, n = "
        f"{per['n']}): r = {_num(per['pearson_r'])} [{_num(per['pearson_ci_low'])}, "
        f"{_num(per['pearson_ci_high'])}]."
    )
    fig, ax = plt.subplots(figsize=(5, 3.6))
    for method, fr in data.fr_by_method.items():
        prec = data.methods[method]["regional_precision"]
        ax.errorbar(
            fr,
            prec["mean"],
            yerr=[[prec["mean"] - prec["ci_low"]], [prec["ci_high"] - prec["mean"]]]
            if prec["ci_low"] == prec["ci_low"]
            else None,
            fmt="o",
            capsize=3,
        )
        ax.annotate(
            method, (fr, prec["mean"]), textcoords="offset points", xytext=(4, 4), fontsize=8
        )
    ax.set_xlabel("falsification rate")
    ax.set_ylabel("regional precision")
    ax.set_title(f"r = {_num(across['pearson_r'])}", fontsize=10)
    sec.figure(fig, alt="FR vs regional precision")


def _num(value) -> str:
    return "undefined" if value is None or value != value else f"{value:.3f}"


def _hypotheses(sec, data: ExplainResult) -> None:
    sec.text(
        "Hypothesis: the study plan's expected results, not targets. Measurement: this run. "
        "Supported = the measured 95 % CI overlaps the hypothesised range (r: measured r "
        "at or below it).",
        note=True,
    )
    rows = [
        {
            "method": r["method"],
            "name in the plan": r["plan_name"],
            "quantity": r["quantity"],
            "hypothesis": r["hypothesis"],
            "measurement": _ci_text(
                {
                    "mean": r["measured_mean"],
                    "ci_low": r["measured_ci"][0],
                    "ci_high": r["measured_ci"][1],
                }
            ),
            "n": r["n"],
            "verdict": r["verdict"],
        }
        for r in data.hypotheses
    ]
    sec.table(pd.DataFrame(rows), index=False)


def _normalise(maps: np.ndarray) -> np.ndarray:
    pos = np.clip(maps, 0, None)
    top = pos.reshape(len(pos), -1).max(1)[:, None, None]
    return np.divide(pos, top, out=np.zeros_like(pos), where=top > 0)


def _overlays(sec, outputs) -> None:
    import matplotlib.pyplot as plt

    sec.text(
        "Per row: the image, its label map with the ground-truth region outlined, then each "
        "method's positive attribution (normalised per map) over the image.",
        note=True,
    )
    for decision, kept in outputs.samples.items():
        k, methods = len(kept.images), list(kept.maps)
        if k == 0:
            continue
        fig, axes = plt.subplots(
            k, 2 + len(methods), figsize=(1.5 * (2 + len(methods)), 1.6 * k + 0.3), squeeze=False
        )
        for i in range(k):
            axes[i, 0].imshow(kept.images[i])
            axes[i, 1].imshow(label_map_to_color(kept.label_maps[i]))
            axes[i, 1].contour(kept.masks[i], levels=[0.5], colors="white", linewidths=0.8)
            for j, method in enumerate(methods):
                ax = axes[i, 2 + j]
                ax.imshow(kept.images[i])
                ax.imshow(
                    _normalise(kept.maps[method][i : i + 1])[0],
                    cmap="jet",
                    alpha=0.5,
                    vmin=0,
                    vmax=1,
                )
                ax.contour(kept.masks[i], levels=[0.5], colors="white", linewidths=0.6)
                if i == 0:
                    ax.set_title(method, fontsize=8)
        axes[0, 0].set_title("image", fontsize=8)
        axes[0, 1].set_title("mask + region", fontsize=8)
        for ax in axes.ravel():
            ax.set_axis_off()
        fig.suptitle(decision, fontsize=10)
        sec.figure(fig, alt=f"heatmaps for {decision}", dpi=90)


def _curves(per_image: pd.DataFrame):
    import matplotlib.pyplot as plt

    steps = sorted(
        int(c.split("_")[1])
        for c in per_image.columns
        if c.startswith("deletion_") and c[9:].isdigit()
    )
    fractions = np.linspace(0, 1, len(steps))
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2), sharey=True)
    for method, frame in per_image.groupby("method", sort=False):
        for ax, kind in zip(axes, ("deletion", "insertion"), strict=True):
            ax.plot(
                fractions, frame[[f"{kind}_{s}" for s in steps]].mean().to_numpy(), label=method
            )
    for ax, kind in zip(axes, ("deletion", "insertion"), strict=True):
        ax.set_title(kind, fontsize=10)
        ax.set_xlabel("fraction of pixels removed" if kind == "deletion" else "fraction restored")
    axes[0].set_ylabel("decision probability")
    axes[1].legend(fontsize=7, ncol=2)
    return fig


def _pairs_and_shortcuts(report: Report, data: ExplainResult) -> None:
    pairs = data.pairs
    if pairs.source:
        sec = report.section("Pair decisions (embedding cosine similarity)")
        sec.text(f"{pairs.n} pairs: {pairs.source}. The region is where the pair differs.")
        sec.table(_method_table(data.per_decision["pair"]))
    if data.shortcuts:
        sec = report.section("Planted shortcuts: does the attribution move to the planted region?")
        rows = []
        for name, methods in data.shortcuts.items():
            for method, s in methods.items():
                rows.append(
                    {
                        "shortcut": name,
                        "method": method,
                        "share in planted region": _ci_text(s["share"]),
                        "planted region area": _ci_text(s["area"]),
                        "moves to planted region": "yes" if s["moves_to_planted_region"] else "no",
                    }
                )
        sec.text(
            "Yes = the mean share's CI lies above the planted region's area baseline (images "
            "carrying the cue).",
            note=True,
        )
        sec.table(pd.DataFrame(rows), index=False)


def _speed(sec, data: ExplainResult) -> None:
    rows = {
        m: {"images": s["images"], "seconds": s["seconds"], "images/s": s["images_per_second"]}
        for m, s in data.methods.items()
    }
    sec.text("Attribution + metrics + falsification time per method (this run, this machine).")
    sec.table(pd.DataFrame(rows).T, float_format="{:.2f}")
    if data.skipped:
        sec.text(f"{len(data.skipped)} image(s) or decisions skipped:")
        sec.table(pd.DataFrame(list(data.skipped[:50])), index=False)
