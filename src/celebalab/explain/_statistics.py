"""Confidence intervals and correlations for the report (scipy; nothing hand-rolled).

Means get percentile bootstrap 95 % CIs (``scipy.stats.bootstrap``, seeded, 2000 resamples);
Pearson's r gets scipy's Fisher-z CI, Spearman's rho a paired bootstrap CI (scipy has no
closed form). Fewer than two values, or constant ones, give NaN intervals, never made-up ones.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import stats

RESAMPLES = 2000


def mean_ci(values: np.ndarray, *, seed: int = 0, confidence: float = 0.95) -> dict[str, float]:
    """``{mean, std, ci_low, ci_high, n}`` of the finite values (percentile bootstrap CI)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    out = {"mean": np.nan, "std": np.nan, "ci_low": np.nan, "ci_high": np.nan, "n": len(v)}
    if len(v) == 0:
        return out
    out["mean"] = float(v.mean())
    out["std"] = float(v.std(ddof=1)) if len(v) > 1 else np.nan
    if len(v) > 1 and np.ptp(v) > 0:
        res = stats.bootstrap(
            (v,),
            np.mean,
            confidence_level=confidence,
            n_resamples=RESAMPLES,
            method="percentile",
            rng=np.random.default_rng(seed),
        )
        out["ci_low"], out["ci_high"] = map(float, res.confidence_interval)
    elif len(v) > 1:
        out["ci_low"] = out["ci_high"] = out["mean"]  # every resample has this mean
    return out


def correlations(x: np.ndarray, y: np.ndarray, *, seed: int = 0) -> dict[str, float]:
    """Pearson r (Fisher CI) and Spearman rho (bootstrap CI) of paired finite values, with n, p."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    nan = float("nan")
    out = dict.fromkeys(
        (
            "pearson_r",
            "pearson_p",
            "pearson_ci_low",
            "pearson_ci_high",
            "spearman_rho",
            "spearman_p",
            "spearman_ci_low",
            "spearman_ci_high",
        ),
        nan,
    )
    out["n"] = len(x)
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return out
    pr = stats.pearsonr(x, y)
    ci = pr.confidence_interval(0.95)
    sr = stats.spearmanr(x, y)
    out.update(
        pearson_r=float(pr.statistic),
        pearson_p=float(pr.pvalue),
        pearson_ci_low=float(ci.low),
        pearson_ci_high=float(ci.high),
        spearman_rho=float(sr.statistic),
        spearman_p=float(sr.pvalue),
    )
    with warnings.catch_warnings():  # constant resamples give NaN rho: they drop out of the CI
        warnings.simplefilter("ignore")
        res = stats.bootstrap(
            (x, y),
            lambda a, b: stats.spearmanr(a, b).statistic,
            paired=True,
            vectorized=False,
            n_resamples=RESAMPLES,
            method="percentile",
            rng=np.random.default_rng(seed),
        )
    low, high = res.confidence_interval
    out["spearman_ci_low"], out["spearman_ci_high"] = float(low), float(high)
    return out
