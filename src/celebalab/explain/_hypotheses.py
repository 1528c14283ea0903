"""The study plan's expected results, kept as hypotheses, never targets.

They are shown beside the measured values, labelled hypothesis vs measurement, with a verdict:
*supported* when the measured 95 % CI overlaps the hypothesised range (for FR and regional
precision) or the measured Pearson r is at or below −0.85 (the correlation), *not supported*
otherwise, *not measured* when the method or value is missing. The plan's "~5.3 %" for Random is
read as 4.3–6.3 %; the qualitative spatial-coherence column (High/Low) has no range and is only
shown next to the measured component counts. The plan's "SHAP" is KernelSHAP here.
"""

from __future__ import annotations

#: method → (the plan's name, FR range, regional precision range, spatial coherence words).
EXPECTED_RESULTS: dict[str, tuple[str, tuple[float, float], tuple[float, float], str]] = {
    "gradcam": ("Grad-CAM", (0.10, 0.10), (0.70, 0.80), "High"),
    "ig": ("Integrated Gradients", (0.15, 0.15), (0.65, 0.75), "High"),
    "kernelshap": ("SHAP", (0.93, 0.93), (0.30, 0.40), "Low"),
    "lime": ("LIME", (0.93, 0.93), (0.25, 0.35), "Low"),
    "random": ("Random (baseline)", (1.0, 1.0), (0.043, 0.063), "Very low"),
}
#: "FR vs Regional Precision should show r = -0.85 or stronger".
EXPECTED_CORRELATION = -0.85

# Deprecated aliases of the two names above (removed in the next release).
SEED_EXPECTED = EXPECTED_RESULTS
SEED_CORRELATION = EXPECTED_CORRELATION


def _overlaps(low: float, high: float, ci_low: float, ci_high: float) -> bool:
    return ci_low <= high and low <= ci_high


def verdict(hypothesis: tuple[float, float], measured: dict) -> str:
    """'supported' / 'not supported' / 'not measured' for one range and one measured summary."""
    lo, hi = measured.get("ci_low"), measured.get("ci_high")
    if lo is None or hi is None or lo != lo or hi != hi:
        return "not measured"
    return "supported" if _overlaps(*hypothesis, lo, hi) else "not supported"


def hypothesis_rows(methods: dict[str, dict], correlation: dict) -> list[dict]:
    """One row per hypothesis: what the study plan expected, what was measured, the verdict."""
    rows = []
    for method, (plan_name, fr, precision, coherence) in EXPECTED_RESULTS.items():
        got = methods.get(method, {})
        for quantity, expected, key in (
            ("falsification rate", fr, "falsification_rate"),
            ("regional precision", precision, "regional_precision"),
        ):
            m = got.get(key, {})
            rows.append(
                {
                    "method": method,
                    "plan_name": plan_name,
                    "quantity": quantity,
                    "hypothesis": _range_text(expected),
                    "measured_mean": m.get("mean"),
                    "measured_ci": [m.get("ci_low"), m.get("ci_high")],
                    "n": m.get("n", 0),
                    "verdict": verdict(expected, m) if m else "not measured",
                }
            )
        comp = got.get("components", {})
        rows.append(
            {
                "method": method,
                "plan_name": plan_name,
                "quantity": "spatial coherence",
                "hypothesis": coherence,
                "measured_mean": comp.get("mean"),
                "measured_ci": [comp.get("ci_low"), comp.get("ci_high")],
                "n": comp.get("n", 0),
                "verdict": "qualitative (components in the top 10 % shown)",
            }
        )
    r = correlation.get("pearson_r")
    rows.append(
        {
            "method": "all",
            "plan_name": "across methods",
            "quantity": "Pearson r(FR, precision)",
            "hypothesis": f"r ≤ {EXPECTED_CORRELATION}",
            "measured_mean": r,
            "measured_ci": [correlation.get("pearson_ci_low"), correlation.get("pearson_ci_high")],
            "n": correlation.get("n", 0),
            "verdict": "not measured"
            if r is None or r != r
            else "supported"
            if r <= EXPECTED_CORRELATION
            else "not supported",
        }
    )
    return rows


def _range_text(bounds: tuple[float, float]) -> str:
    lo, hi = bounds
    return f"{lo:.0%}" if lo == hi else f"{lo:.1%}–{hi:.1%}"
