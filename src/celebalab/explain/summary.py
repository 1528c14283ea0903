"""Summaries of an explain run: per method / decision / region means with bootstrap CIs, FR vs
regional precision, the study plan's hypotheses beside the measurements, shortcuts, ground truth.

``results.json`` is :meth:`ExplainResult.to_json` (a run record, :mod:`celebalab.rundir`); its
``methods`` block is the study plan's ``regional_attribution_results.json`` made complete (every
figure has mean, std, CI and n).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from celebalab.errors import CelebalabError, DataFormatError
from celebalab.explain._hypotheses import hypothesis_rows
from celebalab.explain._statistics import correlations, mean_ci
from celebalab.explain.config import ExplainConfig
from celebalab.explain.metrics import METRIC_NAMES
from celebalab.explain.regions import ANALYSIS_REGION_GROUPS
from celebalab.rundir import NOT_WRITTEN, Record

#: Per-image columns summarised per method (FR is the mean of ``falsified``).
SUMMARISED: tuple[str, ...] = (
    *METRIC_NAMES,
    "falsification_rate",
    "deletion_auc",
    "insertion_auc",
)


@dataclass(frozen=True, kw_only=True)
class FrVsPrecision(Record):
    """FR against regional precision: correlations across methods and per image (``pearson_r``,
    ``spearman_rho``, their p-values and CIs, ``n``)."""

    across_methods: dict[str, Any] = field(default_factory=dict)
    per_image: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class PairsSummary(Record):
    """Where the pair decisions came from, and how many were explained per method."""

    source: str | None = None
    n: int = 0


@dataclass(frozen=True, kw_only=True)
class ExplainResult(Record):
    """``results.json`` (what ``run_explain`` returns and the report shows).

    The statistics blocks map names to ``{mean, std, ci_low, ci_high, n}``: ``methods`` (method
    → metric, plus ``images``, ``seconds``, ``images_per_second``), ``per_decision`` (decision →
    method → metric), ``per_region`` (method → region group). ``outputs`` (the per-image table,
    report samples and timings it was made from) is kept beside it, not written.
    """

    format_version: int = 1
    kind: str = "explain"
    run: str
    root: str
    synthetic: bool = False
    config: ExplainConfig
    regions: dict[str, list[str]] = field(default_factory=dict)
    analysis_region_groups: dict[str, list[str]] = field(default_factory=dict)
    methods: dict[str, dict[str, Any]] = field(default_factory=dict)
    per_decision: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    per_region: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    fr_source: str = "measured"
    fr_by_method: dict[str, float] = field(default_factory=dict)
    fr_vs_precision: FrVsPrecision = field(default_factory=FrVsPrecision)
    hypotheses: tuple[dict[str, Any], ...] = ()
    ground_truth: dict[str, Any] = field(default_factory=dict)
    shortcuts: dict[str, Any] = field(default_factory=dict)
    pairs: PairsSummary = field(default_factory=PairsSummary)
    skipped: tuple[dict[str, str], ...] = ()
    outputs: Any = field(default=None, metadata=NOT_WRITTEN)


def read_fr_table(path: str | Path) -> dict[str, float]:
    """A user's FR table: CSV with columns ``method,fr`` (FR as a fraction 0–1)."""
    from celebalab.explain.methods import check_methods

    path = Path(path)
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as err:
        raise CelebalabError(f"{path}: cannot read FR table ({err})") from None
    if list(frame.columns[:2]) != ["method", "fr"]:
        raise DataFormatError(path, "expected a header 'method,fr'", line=1)
    values = {}
    for i, (method, fr) in enumerate(zip(frame["method"], frame["fr"], strict=True), start=2):
        check_methods([str(method)])
        value = pd.to_numeric(fr, errors="coerce")
        if not 0 <= value <= 1:
            raise DataFormatError(path, f"fr {fr!r} must be a fraction between 0 and 1", line=i)
        values[str(method)] = float(value)
    return values


def _frame_stats(frame: pd.DataFrame, seed: int) -> dict[str, dict]:
    values = frame.assign(falsification_rate=frame["falsified"].astype(float))
    return {name: mean_ci(values[name].to_numpy(), seed=seed) for name in SUMMARISED}


def summarise(
    outputs, *, config, run_dir: Path, root: Path, user_fr: dict[str, float] | None
) -> ExplainResult:
    """Everything the report and ``results.json`` show, from the per-image table."""
    from celebalab.explain.decisions import PAIR_DECISION

    per_image, seed = outputs.per_image, config.seed
    attrs = per_image[per_image["decision"] != PAIR_DECISION]
    methods = {}
    for method, frame in attrs.groupby("method", sort=False):
        stats = _frame_stats(frame, seed)
        seconds = sum(t.get(method, 0.0) for d, t in outputs.timing.items() if d != PAIR_DECISION)
        stats["images"] = len(frame)
        stats["seconds"] = seconds
        stats["images_per_second"] = len(frame) / seconds if seconds > 0 else float("nan")
        methods[method] = stats
    per_decision = {
        decision: {m: _frame_stats(f, seed) for m, f in frame.groupby("method", sort=False)}
        for decision, frame in per_image.groupby("decision", sort=False)
    }
    per_region = {
        method: {
            g: mean_ci(frame[f"share:{g}"].to_numpy(), seed=seed) for g in ANALYSIS_REGION_GROUPS
        }
        for method, frame in attrs.groupby("method", sort=False)
    }
    fr = user_fr or {m: s["falsification_rate"]["mean"] for m, s in methods.items()}
    common = [m for m in methods if m in fr]
    across = correlations(
        np.array([fr[m] for m in common]),
        np.array([methods[m]["regional_precision"]["mean"] for m in common]),
        seed=seed,
    )
    per_img = correlations(
        attrs["falsified"].astype(float).to_numpy(),
        attrs["regional_precision"].to_numpy(),
        seed=seed,
    )
    pairs = (per_image["decision"] == PAIR_DECISION).sum() // max(1, per_image["method"].nunique())
    return ExplainResult(
        run=str(run_dir),
        root=str(root),
        synthetic=outputs.synthetic is not None,
        config=config,
        regions={a: list(c) for a, c in outputs.regions.items()},
        analysis_region_groups={g: list(c) for g, c in ANALYSIS_REGION_GROUPS.items()},
        methods=methods,
        per_decision=per_decision,
        per_region=per_region,
        fr_source="user table" if user_fr else "measured",
        fr_by_method={m: fr[m] for m in common},
        fr_vs_precision=FrVsPrecision(across_methods=across, per_image=per_img),
        hypotheses=tuple(hypothesis_rows(methods, across)),
        ground_truth=_ground_truth(per_decision),
        shortcuts=_shortcuts(attrs, seed),
        pairs=PairsSummary(source=outputs.pair_source, n=int(pairs)),
        skipped=tuple(outputs.skipped),
        outputs=outputs,
    )


def _ground_truth(per_decision: dict) -> dict:
    """Per decision × method: is regional precision above the area baseline (CIs apart)?"""
    out = {}
    for decision, methods in per_decision.items():
        out[decision] = {
            m: {
                "precision_ci": [
                    s["regional_precision"]["ci_low"],
                    s["regional_precision"]["ci_high"],
                ],
                "area_ci": [s["area"]["ci_low"], s["area"]["ci_high"]],
                "above_area": bool(s["regional_precision"]["ci_low"] > s["area"]["ci_high"]),
            }
            for m, s in methods.items()
        }
    return out


def _shortcuts(attrs: pd.DataFrame, seed: int) -> dict:
    """Per planted cue and method: attribution share in the planted region vs its area."""
    out = {}
    for column in [c for c in attrs.columns if c.startswith("planted:")]:
        name = column.split(":", 1)[1]
        frame = attrs[attrs["decision"] == name.split(":")[0]]
        if f"cue:{name}" in frame:
            frame = frame[frame[f"cue:{name}"].astype(bool)]
        if frame.empty:
            continue
        out[name] = {}
        for method, f in frame.groupby("method", sort=False):
            share = mean_ci(f[column].to_numpy(), seed=seed)
            area = mean_ci(f[f"planted_area:{name}"].to_numpy(), seed=seed)
            out[name][method] = {
                "share": share,
                "area": area,
                "moves_to_planted_region": bool(share["ci_low"] > area["ci_high"]),
            }
    return out
