"""Benchmark ``celebalab stats`` against a faithful re-implementation of the seed notebook.

Table: 202,599 × 40 attributes drawn by the synthetic data generator's attribute model
(``celebalab.datasets.synth._sampling.sample_attributes``: CelebA's published rates, correlated
through identity-level traits). Stages timed: frequencies + P(A | B) + phi + lift; the 40
leave-one-out logistic regressions (random 80/20 split, random_state=42); the
k = 2..10 MiniBatchKMeans sweep with silhouette; t-SNE on a 5,000-row sample. The seed's approach
(nested pandas loop for P(A | B), 40 sequential scikit-learn fits) runs in the same process on the
same table, and the largest differences between the two are printed.

Targets: freq+cond+corr < 1 s; 40 regressions < 20 s; sweep < 30 s; >= 50x (conditional table)
and >= 3x (regression table) against the seed. ``--quick`` uses 40,000 rows and times the seed's
regressions on 8 attributes only (scaled to 40 for the ratio, and said so).
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from celebalab.analysis._clustering import cluster_attributes, sample_rows, tsne_embedding
from celebalab.analysis._frequencies import attribute_frequencies
from celebalab.analysis._notebook_reference import (
    notebook_conditional_probabilities,
    notebook_logistic_regressions,
)
from celebalab.analysis._predictability import random_split, run_protocol
from celebalab.analysis.associations import compute_associations
from celebalab.datasets.schema import ATTRIBUTE_NAMES, CELEBA_NUM_IDENTITIES, CELEBA_NUM_IMAGES
from celebalab.datasets.synth._sampling import sample_attributes

NAMES = list(ATTRIBUTE_NAMES)


def build_table(n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` images of CelebA-like attributes (0/1), ids and the official partition proportions."""
    rng = np.random.default_rng(seed)
    X = sample_attributes(rng, rng.integers(0, CELEBA_NUM_IDENTITIES, n), CELEBA_NUM_IDENTITIES)
    frame = pd.DataFrame(X.astype(np.int64), columns=NAMES)
    frame.insert(0, "image_id", [f"{i + 1:06d}.jpg" for i in range(n)])
    frame["partition"] = np.searchsorted([0.8034, 0.9015], np.arange(n) / n, side="right")
    return frame


# --- measurement -------------------------------------------------------------------------------


def timed(fn, *args, repeat: int = 1, **kwargs):
    """(best wall time over ``repeat`` runs, result of the last run)."""
    best, result = np.inf, None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        best = min(best, time.perf_counter() - start)
    return best, result


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="40,000 rows, seed fits on 8 attrs")
    parser.add_argument("--rows", type=int, default=None, help="override the number of rows")
    args = parser.parse_args()
    n = args.rows or (40_000 if args.quick else CELEBA_NUM_IMAGES)
    seed_attrs = NAMES[::5] if args.quick else NAMES

    frame = build_table(n)
    X = frame[NAMES].to_numpy().astype(np.uint8)
    parts = frame["partition"].to_numpy().astype(np.int8)
    print(f"table: {n:,} rows x {len(NAMES)} attributes (synthetic, CelebA rates)")
    shares = ", ".join(f"{a} {X[:, NAMES.index(a)].mean():.3f}" for a in ("Male", "Young", "Bald"))
    print(f"  mean share {X.mean():.3f}; {shares}")

    t_freq, _ = timed(attribute_frequencies, X, NAMES, parts, repeat=3)
    t_assoc, assoc = timed(compute_associations, X, NAMES, repeat=3)
    t_seed_cond, seed_cond = timed(notebook_conditional_probabilities, frame)
    cond_diff = np.nanmax(np.abs(assoc.conditional.to_numpy() - seed_cond.to_numpy(float)))
    total = t_freq + t_assoc
    print("\n[1] frequencies + P(A|B) + phi + lift")
    print(
        f"  celebalab: frequencies {t_freq:.3f} s + associations {t_assoc:.3f} s = {total:.3f} s"
        f"  (target < 1 s: {verdict(total < 1)})"
    )
    print(f"  seed nested loop P(A|B): {t_seed_cond:.2f} s")
    print(f"  max |difference| of P(A|B): {cond_diff:.2e}")
    print(
        f"  speed-up (seed loop / celebalab associations): {t_seed_cond / t_assoc:.0f}x "
        f"(target >= 50x: {verdict(t_seed_cond / t_assoc >= 50)})"
    )

    t_ours, proto = timed(run_protocol, "random_split", X, parts, NAMES)
    # The seed runs single-threaded like celebalab's solver: on a shared 2-core machine that made
    # its fits ~2.7x faster than scikit-learn's default threads, so the ratio is conservative.
    with threadpool_limits(limits=1):
        t_seed_reg, (seed_reg, seed_pred) = timed(notebook_logistic_regressions, frame, seed_attrs)
    scale = len(NAMES) / len(seed_attrs)
    ours = proto.table.loc[seed_attrs]
    _, test = random_split(n)
    our_pred = proto.fit.decision_function(X[test]) > 0
    flips = {a: int((seed_pred[a] != our_pred[:, NAMES.index(a)]).sum()) for a in seed_attrs}
    print("\n[2] 40 leave-one-out logistic regressions (random 80/20 split)")
    print(
        f"  celebalab batched Newton (fit + all metrics): {t_ours:.2f} s, "
        f"{proto.fit.iterations} iterations (target < 20 s: {verdict(t_ours < 20)})"
    )
    subset = "" if scale == 1 else f" on {len(seed_attrs)} attributes, x{scale:.0f} ="
    print(f"  seed sequential sklearn fits (single-threaded):{subset} {t_seed_reg * scale:.2f} s")
    worst = max(flips, key=flips.get)
    print(
        f"  test predictions that differ: {sum(flips.values())} of {len(test) * len(seed_attrs):,}"
        f" (most: {flips[worst]} for {worst}; lbfgs stops at tol=1e-4, Newton at 1e-10)"
    )
    columns = {"Accuracy": "accuracy", "Precision": "precision", "Recall": "recall"}
    columns["F1-Score"] = "f1"
    for seed_col, our_col in columns.items():
        defined = ours[our_col].notna()
        diff = (seed_reg.loc[defined, seed_col] - ours.loc[defined, our_col]).abs()
        where = diff.idxmax()
        print(
            f"  max |difference| {our_col:<9}: {diff.max():.2e} ({where}, "
            f"{int(our_pred[:, NAMES.index(where)].sum())} predicted positive); "
            f"undefined here, {seed_col}=1 in the seed (zero_division=1): {int((~defined).sum())}"
        )
    ratio = t_seed_reg * scale / t_ours
    print(f"  speed-up: {ratio:.1f}x (target >= 3x: {verdict(ratio >= 3)})")

    t_sweep, clusters = timed(cluster_attributes, X, NAMES, tsne=False)
    sample = sample_rows(n, 5000)
    from sklearn.preprocessing import StandardScaler

    Z = StandardScaler().fit_transform(X.astype(np.float64))[sample]
    t_tsne, _ = timed(tsne_embedding, Z)
    print("\n[3] clustering")
    print(
        f"  MiniBatchKMeans k=2..10 on all rows + silhouette (5,000 sample) + PCA: "
        f"{t_sweep:.2f} s (target < 30 s: {verdict(t_sweep < 30)}); chosen k = {clusters.k}"
    )
    print(f"  t-SNE (openTSNE, 5,000 rows, 2 threads): {t_tsne:.2f} s")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak memory (max RSS): {peak:.0f} MiB")


if __name__ == "__main__":
    main()
