"""HTML report of an evaluation: headline beside its baseline, sorted per-attribute chart, tables.

Mean accuracy is never shown alone: every headline figure sits next to the majority-class
baseline's, and mean balanced accuracy and macro-F1 come first, because on CelebA the majority
class alone already scores about 80 % mean accuracy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from celebalab.reports.html import Report

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from celebalab.models._eval_result import EvaluationResult

#: Headline figures in display order: mean accuracy comes last, never alone.
HEADLINE_LABELS = {
    "mean_balanced_accuracy": "Mean balanced accuracy",
    "macro_f1": "Macro-F1",
    "mean_average_precision": "Mean average precision",
    "mean_accuracy": "Mean accuracy",
}
#: How the literature's protocol is named wherever its figures are shown.
AT_HALF_TEXT = "At the fixed threshold 0.5 (the literature protocol)"
_GROUP_COLOURS = {"drawn": "#2f6fdf", "sampled-only": "#e8892b", "mixed": "#8a55c8"}
_DEFAULT_COLOUR = "#4a7fb5"
_BASELINE_COLOUR = "#c9ced6"
_CARD = (
    "display:inline-block;vertical-align:top;min-width:210px;margin:0 12px 12px 0;"
    "padding:12px 16px;border:1px solid #e3e6ea;border-radius:8px;background:#fafbfc"
)


def build_evaluation_report(result: EvaluationResult) -> Report:
    """The evaluation report of ``result`` (write it with ``.write(path)``)."""
    n = len(result.predictions)
    report = Report(
        title=f"Evaluation of {result.run_dir.name} on the {result.split} split",
        subtitle=(
            f"{result.run.arch} at {result.run.image_size} px · {n:,} images · "
            f"{len(result.metrics)} attributes · images from {result.data_source}"
        ),
        summary=_summary(result),
    )
    _headline_section(report, result)
    if result.groups is not None:
        _groups_section(report, result)
    chart = report.section("Per-attribute results, sorted")
    chart.text(
        "Bars: the model. Grey: the majority-class baseline (always answering the class that is "
        "more frequent in the training split), whose balanced accuracy is 0.5 by construction. "
        "Sorted by the model's balanced accuracy."
    )
    chart.figure(
        attribute_chart(result.metrics, result.attribute_groups), alt="per-attribute chart"
    )
    table = report.section("Per-attribute metrics")
    table.text(
        "'undefined': the metric has no value here (e.g. recall without positives). prev.: "
        "share of positives (the baseline of AP, average precision); thr.: decision threshold "
        "on the probability; base acc / base F1: the majority-class baseline's.",
        note=True,
    )
    table.table(_attribute_table(result))
    notes = list(result.notes)
    if result.skipped_images:
        shown = ", ".join(result.skipped_images[:20])
        more = len(result.skipped_images) - 20
        notes.append(
            f"{len(result.skipped_images)} unreadable image(s) were left out: {shown}"
            + (f" and {more} more" if more > 0 else "")
        )
    if notes:
        sec = report.section("Data notes")
        for note in notes:
            sec.text(note)
    return report


def _summary(result: EvaluationResult) -> str:
    """Two sentences: what was measured, and how to read the headline."""
    h = result.headline
    return (
        f"The classifier was scored on {len(result.predictions):,} {result.split} images, "
        f"attribute by attribute, against a majority-class guess: mean balanced accuracy "
        f"{format_metric(h['mean_balanced_accuracy'])}, where 0.5 is what guessing scores. "
        "Attributes near 0.5 were not learned; accuracy alone flatters rare attributes, so read "
        "balanced accuracy and F1 beside it."
    )


def _headline_section(report: Report, result: EvaluationResult) -> None:
    h = result.headline
    cards = []
    for key, label in HEADLINE_LABELS.items():
        model, base = h[key], h[f"baseline_{key}"]
        delta = round(model - base, 3) + 0.0 if np.isfinite(model - base) else float("nan")
        colour = "#1a7f37" if delta > 0 else "#b42318" if delta < 0 else "#555"
        cards.append(
            f'<div style="{_CARD}"><div style="font-size:13px;color:#555">{label}</div>'
            f'<div style="font-size:28px;font-weight:600">{format_metric(model)}</div>'
            f'<div style="font-size:13px;color:#555">majority baseline {format_metric(base)} · '
            f'<span style="color:{colour}">{"+" if delta > 0 else ""}{format_metric(delta)}'
            "</span></div>"
            f'<div style="font-size:11.5px;color:#888">over {h[f"{key}_attributes"]} of '
            f"{h['attributes']} attributes</div></div>"
        )
    sec = report.section("Headline")
    sec.raw("".join(cards))
    sec.text(
        "Mean accuracy is shown last and never alone: predicting the majority class for every "
        f"attribute already reaches {format_metric(h['baseline_mean_accuracy'])}. Balanced "
        "accuracy and F1 show whether the rare class is found at all.",
        note=True,
    )
    sec.text(
        f"{AT_HALF_TEXT}: mean accuracy {format_metric(h['mean_accuracy_at_0.5'])}, mean "
        f"balanced accuracy {format_metric(h['mean_balanced_accuracy_at_0.5'])} (tuned "
        f"thresholds above: {format_metric(h['mean_accuracy'])} and "
        f"{format_metric(h['mean_balanced_accuracy'])}). Published CelebA figures (about 0.91 "
        "mean accuracy) use this protocol, usually with an unweighted BCE loss: compare with a "
        "run trained with --no-pos-weight."
    )


def _groups_section(report: Report, result: EvaluationResult) -> None:
    assert result.groups is not None
    sec = report.section("Drawn vs sampled-only attributes (synthetic data)")
    sec.text(
        "Drawn attributes change the pixels of the synthetic face and must be learned well. "
        "Sampled-only attributes are never drawn: a model can predict them only through their "
        "correlation with drawn ones, so their balanced accuracy measures that correlation."
    )
    frame = result.groups.rename(
        columns={"defined_balanced_accuracy": "with defined bal. acc"}
    ).rename(columns=lambda c: c.replace("_", " "))
    sec.table(frame.astype(object))  # object rows keep the counts integers


def attribute_chart(metrics: pd.DataFrame, groups: dict[str, str] | None = None) -> Figure:
    """Horizontal bars per attribute, sorted by balanced accuracy: model vs majority baseline.

    Left panel balanced accuracy, right panel accuracy; bar colours mark the attribute group when
    ``groups`` is given (synthetic data). Undefined values are drawn as empty rows marked "n/a".
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    order = metrics.sort_values("balanced_accuracy", ascending=True, na_position="first").index
    m = metrics.loc[order]
    pos = np.arange(len(m))
    colours = [_GROUP_COLOURS.get((groups or {}).get(a, ""), _DEFAULT_COLOUR) for a in m.index]
    fig = Figure(figsize=(11, 0.26 * len(m) + 1.6))
    axes = fig.subplots(1, 2, sharey=True)
    panels = (("balanced_accuracy", "Balanced accuracy"), ("accuracy", "Accuracy"))
    for ax, (col, title) in zip(axes, panels, strict=True):
        base = m[f"baseline_{col}"].to_numpy(float)
        model = m[col].to_numpy(float)
        ax.barh(pos, np.nan_to_num(base), height=0.8, color=_BASELINE_COLOUR, zorder=1)
        ax.barh(pos, np.nan_to_num(model), height=0.45, color=colours, zorder=2)
        for y, v in zip(pos, model, strict=True):
            ax.text(v + 0.01 if np.isfinite(v) else 0.01, y, f"{v:.2f}" if np.isfinite(v)
                    else "n/a", va="center", fontsize=7.5, color="#333")  # fmt: skip
        ax.set_xlim(0, 1.08)
        ax.set_title(title, fontsize=11)
        ax.grid(axis="x", color="#e3e6ea", zorder=0)
        ax.set_axisbelow(True)
        ax.spines[["top", "right"]].set_visible(False)
        ax.tick_params(axis="y", length=0)
    axes[0].axvline(0.5, color="#777", lw=0.8, ls="--", zorder=3)
    axes[0].set_yticks(pos, [a.replace("_", " ") for a in m.index], fontsize=8.5)
    axes[0].set_ylim(-0.6, len(m) - 0.4)
    handles = [Patch(color=_BASELINE_COLOUR, label="majority baseline")]
    present = dict.fromkeys((groups or {}).get(a, "") for a in m.index)
    named = [g for g in present if g in _GROUP_COLOURS]
    if named:
        handles += [Patch(color=_GROUP_COLOURS[g], label=f"model, {g}") for g in named]
    else:
        handles.append(Patch(color=_DEFAULT_COLOUR, label="model"))
    fig.legend(handles=handles, loc="upper center", ncol=len(handles), frameon=False,
               bbox_to_anchor=(0.5, 1.0 - 0.05 / fig.get_figheight()), fontsize=9)  # fmt: skip
    height = fig.get_figheight()  # fixed margins: tight_layout would measure ~100 labels
    fig.subplots_adjust(left=0.17, right=0.98, wspace=0.08, top=1 - 0.75 / height,
                        bottom=0.35 / height)  # fmt: skip
    return fig


def _attribute_table(result: EvaluationResult) -> pd.DataFrame:
    m = result.metrics.sort_values("balanced_accuracy", ascending=False, na_position="last")
    cols = ["prevalence", "threshold", "balanced_accuracy", "accuracy", "baseline_accuracy",
            "precision", "recall", "f1", "baseline_f1", "average_precision"]  # fmt: skip
    table = m[cols].copy()
    table["TP/FP/TN/FN"] = [f"{r.tp}/{r.fp}/{r.tn}/{r.fn}" for r in m.itertuples()]
    groups = result.attribute_groups
    if groups is not None:
        table.insert(0, "group", [groups[a] for a in table.index])
    short = {"prevalence": "prev.", "threshold": "thr.", "balanced_accuracy": "bal. acc",
             "accuracy": "acc", "baseline_accuracy": "base acc", "precision": "prec.",
             "baseline_f1": "base F1", "average_precision": "AP"}  # fmt: skip
    return table.rename(columns=short)


def format_metric(value: float) -> str:
    """A metric to three decimals, or "undefined" for NaN (never a made-up number)."""
    return "undefined" if not np.isfinite(value) else f"{value:.3f}"
