"""Pairwise co-occurrence of attributes: P(A | B), phi correlation and lift from one product.

The seed computed P(A | B) with a nested pandas loop over 1,600 pairs; all three tables follow
from the joint-count matrix ``XᵀX`` and the marginal counts, which a single BLAS call gives.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Associations:
    """Pairwise tables indexed by attribute; rows are A, columns are B."""

    n: int
    counts: pd.Series
    joint: pd.DataFrame
    conditional: pd.DataFrame
    phi: pd.DataFrame
    lift: pd.DataFrame
    order: list[str]


_CHUNK = 32768


def joint_counts(X: np.ndarray) -> np.ndarray:
    """``joint[a, b]`` = number of rows where both attributes are 1 (exact integers).

    Chunks of rows in float32 are exact (every partial sum is an integer below 2**24) and keep
    the product in cache; single-threaded BLAS, as the products are small.
    """
    from threadpoolctl import threadpool_limits

    joint = np.zeros((X.shape[1], X.shape[1]), dtype=np.int64)
    with threadpool_limits(limits=1, user_api="blas"):
        for start in range(0, X.shape[0], _CHUNK):
            block = X[start : start + _CHUNK].astype(np.float32)
            joint += np.rint(block.T @ block).astype(np.int64)
    return joint


def compute_associations(X: np.ndarray, attributes: Sequence[str]) -> Associations:
    """P(A | B) = joint / count(B) (diagonal 1), phi and lift; NaN wherever they are undefined.

    P(A | B) is undefined when B never occurs; phi when either attribute is constant; lift when
    either never occurs.
    """
    n = X.shape[0]
    joint = joint_counts(X)
    counts = np.diag(joint).astype(np.float64)
    phi = _phi(joint, counts, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        conditional = np.where(counts[None, :] > 0, joint / counts[None, :], np.nan)
        marg = np.outer(counts, counts)
        lift = np.where(marg > 0, n * joint / marg, np.nan)
    names = list(attributes)

    def frame(values: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(values, index=pd.Index(names, name="A"), columns=names)

    return Associations(
        n=n,
        counts=pd.Series(counts.astype(np.int64), index=names, name="count"),
        joint=frame(joint),
        conditional=frame(conditional),
        phi=frame(np.clip(phi, -1.0, 1.0)),
        lift=frame(lift),
        order=clustered_order(phi, names),
    )


def _phi(joint: np.ndarray, counts: np.ndarray, n: int) -> np.ndarray:
    """Phi of every pair from the joint counts (NaN where either attribute is constant)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        variance = counts * (n - counts)
        phi_den = np.sqrt(np.outer(variance, variance))
        return np.where(phi_den > 0, (n * joint - np.outer(counts, counts)) / phi_den, np.nan)


def phi_table(X: np.ndarray, attributes: Sequence[str]) -> pd.DataFrame:
    """Phi correlation of ``attributes`` (in the given order), without the rest of
    :func:`compute_associations`: no SciPy clustering order, whose import (~1-2 s) would hold
    back an interactive view."""
    joint = joint_counts(X)
    phi = np.clip(_phi(joint, np.diag(joint).astype(np.float64), X.shape[0]), -1.0, 1.0)
    names = list(attributes)
    return pd.DataFrame(phi, index=pd.Index(names, name="A"), columns=names)


def clustered_order(corr: np.ndarray, names: Sequence[str]) -> list[str]:
    """Names ordered by average-linkage clustering on 1 - correlation, so blocks line up."""
    from scipy.cluster.hierarchy import leaves_list, linkage
    from scipy.spatial.distance import squareform

    if len(names) < 3:
        return list(names)
    dist = 1.0 - np.nan_to_num(corr, nan=0.0)
    dist = np.clip((dist + dist.T) / 2, 0.0, 2.0)
    np.fill_diagonal(dist, 0.0)
    tree = linkage(squareform(dist, checks=False), method="average", optimal_ordering=True)
    return [names[i] for i in leaves_list(tree)]


def top_pairs(assoc: Associations, n_pairs: int = 10) -> pd.DataFrame:
    """The ``n_pairs`` most positively and most negatively associated pairs (by phi), A ≠ B."""
    names = list(assoc.phi.index)
    ia, ib = np.triu_indices(len(names), k=1)
    phi = assoc.phi.to_numpy()[ia, ib]
    defined = ~np.isnan(phi)
    ia, ib, phi = ia[defined], ib[defined], phi[defined]
    order = np.argsort(-phi, kind="stable")
    picks = [("positive", order[:n_pairs]), ("negative", order[::-1][:n_pairs])]
    cond = assoc.conditional.to_numpy()
    rows = [
        {
            "association": kind,
            "A": names[ia[i]],
            "B": names[ib[i]],
            "phi": phi[i],
            "lift": assoc.lift.iat[ia[i], ib[i]],
            "P(A|B)": cond[ia[i], ib[i]],
            "P(B|A)": cond[ib[i], ia[i]],
            "joint_count": int(assoc.joint.iat[ia[i], ib[i]]),
        }
        for kind, idx in picks
        for i in idx
    ]
    return pd.DataFrame(rows)
