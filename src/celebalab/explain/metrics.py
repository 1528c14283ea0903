"""Regional metrics of attribution maps against region masks, vectorised over the batch.

Every metric takes attributions ``A`` (``B×H×W`` float) and region masks ``M`` (``B×H×W`` bool)
and returns one value per image (NaN where it is undefined: an empty region, no positive mass,
a NaN in the map). No argsort: one sort per map of int64 keys that pack the value's order bits
with the pixel's mask bit serves every rank-based metric (AUC included; without AUC a partition
and a sort of the top pixels only; for the top-q % set alone, a partition). Only maps where equal
values straddle a top set's border are argsorted, as Quantus does, since the tie order decides
there. Connected components of all maps come from one ``scipy.ndimage.label`` call whose
structure never links two images.
The Quantus counterparts (tested equal to ≤ 1e-6 in ``tests/test_explain_metrics.py``):

=============================  ==================================================================
``regional_precision``         Quantus ``RelevanceMassAccuracy`` on ``max(A, 0)``
``energy_pointing_game``       Quantus ``RelevanceMassAccuracy`` with ``abs=True``
``pointing_game``              Quantus ``PointingGame``
``relevance_rank_accuracy``    Quantus ``RelevanceRankAccuracy``
``top_k_intersection``         Quantus ``TopKIntersection(k=ceil(q·H·W))``
``auc``                        Quantus ``AUC`` (ROC AUC of A as a score for region pixels)
``regional_recall``            none: share of region pixels among the top-q % pixels
``components``, ``largest_component_share``   none: coherence of the top-q % pixels
                               (NaN, like regional recall, for a constant map: no top set)
``area``                       the region's share of the image (what a uniform map scores)
=============================  ==================================================================
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import torch
from scipy import ndimage

#: Metric names in report order.
METRIC_NAMES: tuple[str, ...] = (
    "regional_precision",
    "regional_recall",
    "energy_pointing_game",
    "pointing_game",
    "relevance_rank_accuracy",
    "top_k_intersection",
    "auc",
    "components",
    "largest_component_share",
    "area",
)
#: 8-connectivity within an image, never across the batch axis.
_STRUCTURE = np.zeros((3, 3, 3), dtype=bool)
_STRUCTURE[1] = True


def top_count(height: int, width: int, top_fraction: float) -> int:
    """Pixels in the "top q %" of an ``height×width`` map: ``ceil(q·H·W)``, at least 1."""
    return max(1, math.ceil(top_fraction * height * width - 1e-9))


def regional_metrics(
    attributions: np.ndarray | torch.Tensor,
    masks: np.ndarray | torch.Tensor,
    *,
    top_fraction: float = 0.1,
    chunk: int = 512,
    metrics: Iterable[str] | None = None,
) -> dict[str, np.ndarray]:
    """All regional metrics of ``attributions`` (B×H×W) against ``masks`` (B×H×W bool).

    ``top_fraction`` (q) sets the top-q % pixel set used by regional recall, top-k intersection
    and spatial coherence. ``metrics`` (names from :data:`METRIC_NAMES`, all by default) computes
    only those, skipping the work the others need. Returns ``{metric: float64 array (B,)}`` in
    :data:`METRIC_NAMES` order. Maps are compared in float32; a map with a NaN scores NaN.
    """
    wanted = METRIC_NAMES if metrics is None else tuple(metrics)
    unknown = sorted(set(wanted) - set(METRIC_NAMES))
    if unknown:
        raise ValueError(f"unknown metrics {unknown}; choose from {list(METRIC_NAMES)}")
    names = tuple(name for name in METRIC_NAMES if name in wanted)
    a, m = _as_numpy(attributions, np.float32), _as_numpy(masks, bool)
    if a.ndim != 3 or a.shape != m.shape:
        raise ValueError(f"attributions {a.shape} and masks {m.shape} must be B×H×W")
    if not 0 < top_fraction <= 1:
        raise ValueError(f"top_fraction must be in (0, 1], not {top_fraction}")
    parts = [
        _metrics(a[i : i + chunk], m[i : i + chunk], top_fraction, names)
        for i in range(0, len(a), chunk)
    ]
    if not parts:
        return {k: np.zeros(0) for k in names}
    return {k: np.concatenate([p[k] for p in parts]) for k in names}


def _as_numpy(x: np.ndarray | torch.Tensor, dtype: type) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.ascontiguousarray(x, dtype=dtype)


def _metrics(a: np.ndarray, m: np.ndarray, q: float, names: tuple[str, ...]) -> dict:
    b, h, w = a.shape
    n = h * w
    raw, mask = a.reshape(b, n), m.reshape(b, n)
    size = mask.sum(1)
    empty = size == 0
    broken = np.isnan(raw).any(1)  # a NaN map scores NaN (its order is undefined)
    flat = raw + np.float32(0)  # -0.0 → +0.0: equal values get equal sort keys
    if broken.any():
        flat[broken] = 0
    k = top_count(h, w, q)
    out: dict[str, np.ndarray] = {}
    if "regional_precision" in names:
        out["regional_precision"] = _mass_share(np.maximum(flat, 0), mask)
    if "energy_pointing_game" in names:
        out["energy_pointing_game"] = _mass_share(np.abs(flat), mask)
    if "area" in names:
        out["area"] = size / n
    flat_map = np.zeros(b, bool)
    if set(names) & _RANKED:
        ranked, flat_map = _ranked(flat, mask, raw, broken, size, k, names, (h, w))
        out.update(ranked)
    elif "pointing_game" in names:
        top = flat.max(1, keepdims=True)
        out["pointing_game"] = (mask & (flat == top)).any(1).astype(np.float64)
    for name in names:
        out[name] = np.asarray(out[name], dtype=np.float64)
        if name != "area":
            out[name][empty | broken] = np.nan
        if name in ("regional_recall", "components", "largest_component_share"):
            out[name][flat_map] = np.nan
    return out


_BELOW_ALL = -(2**40)  # below every sort key: "no pixel below this column"

#: Metrics that need each map's pixels in rank order (one sort per map serves them all).
_RANKED = frozenset(
    (
        "regional_recall",
        "relevance_rank_accuracy",
        "top_k_intersection",
        "auc",
        "components",
        "largest_component_share",
    )
)


def _ranked(flat, mask, raw, broken, size, k, names, shape, exact=False) -> tuple[dict, np.ndarray]:
    """Rank-based metrics of a chunk from one sort of packed keys (no argsort), or, when only the
    top-k set is needed, from a partition.

    Each pixel's key is its value's order-preserving int32 bits, doubled, plus its mask bit, so
    one int64 sort per row yields the values in ascending order *and* which of them lie in the
    region (region pixels after the others among equal values). The top-k and top-|region| sets
    are then the last k (|region|) columns. Where equal values straddle such a set's border,
    which of them it holds is an arbitrary choice: for those rows only, the set is taken from
    ``np.argsort(-A)``, the order Quantus uses (ties included). Also returns which maps are
    constant (their top set is arbitrary).
    """
    b, n = flat.shape
    bits = flat.view(np.int32)
    key32 = bits ^ ((bits >> 31) & np.int32(0x7FFFFFFF))  # float order as int32 order
    border = n - k  # first column of the top-k set (ascending order)
    out: dict[str, np.ndarray] = {}
    ranks = "auc" in names or "relevance_rank_accuracy" in names
    plateau = (flat == 0).sum(1) > 1  # certainly tied (zeros, as in Grad-CAM): sort exactly
    short = "auc" in names and not exact and not plateau.all()
    if short:  # int32 keys (value bits but the lowest + mask bit) sort twice as fast; maps
        key32 = key32 >> 1  # where two values share the other 31 bits are redone exactly
    if ranks:
        packed = key32.astype(np.int32 if short else np.int64)
        packed <<= 1
        packed |= mask
        rows = np.arange(b)
        if "auc" in names:  # AUC needs every rank: sort the whole row
            cut, lower = 0, np.full(b, _BELOW_ALL)
            packed.sort(axis=1)
        else:  # only the top max(k, |region|) pixels need ranks: partition, sort those
            cut = n - max(k, int(size.max()))
            if cut > 0:
                packed.partition(cut, axis=1)
                lower = packed[:, :cut].max(1) >> 1
                packed = np.sort(packed[:, cut:], axis=1)
            else:
                lower = np.full(b, _BELOW_ALL)
                packed.sort(axis=1)
        width = packed.shape[1]  # the last `width` columns of the ascending order
        region = (packed & 1).astype(bool)  # mask, in ascending value order
        value = packed >> 1
        clash = (value[:, 1:] == value[:, :-1]).any(1) | plateau if short else None

        def tie(col: np.ndarray) -> np.ndarray:  # equal values on both sides of column col
            before = np.where(col > 0, value[rows, np.maximum(col - 1, 0)], lower)
            return value[rows, col] == before

        flat_map = value[:, 0] == value[:, -1] if cut == 0 else key32.min(1) == key32.max(1)
        threshold = value[:, width - k].astype(np.int32)
        tie_k = tie(np.full(b, width - k))
        hits_k = region[:, width - k :].sum(1)
        if "pointing_game" in names:  # a region pixel holds the maximum (it sorts last on ties)
            out["pointing_game"] = region[:, -1]
        if "auc" in names:
            out["auc"] = _auc(value, region)
        if "relevance_rank_accuracy" in names:
            col = np.clip(width - size, 0, width - 1)  # first column of the top-|region| set
            tie_s = (size > 0) & tie(col)
            cum = np.cumsum(region, axis=1, dtype=np.int32)
            hits_s = cum[:, -1] - np.where(col > 0, cum[rows, np.maximum(col - 1, 0)], 0)
    else:  # only the top-k set: a partition finds its border value, no sort
        parted = np.partition(key32, border, axis=1)
        threshold = parted[:, border]
        chosen = key32 >= threshold[:, None]
        tie_k = chosen.sum(1) != k  # equal values below the border too
        hits_k = (chosen & mask).sum(1)
        flat_map = parted.min(1) == parted.max(1)
        if "pointing_game" in names:
            peak = parted[:, border:].max(1)
            out["pointing_game"] = (mask & (key32 == peak[:, None])).any(1)
    redo = (tie_k | (tie_s if "relevance_rank_accuracy" in names else False)) & ~broken
    if short:
        redo &= ~clash
    coherence = "components" in names or "largest_component_share" in names
    top = key32 >= threshold[:, None] if coherence else None
    if redo.any():
        again = np.flatnonzero(redo)
        order = np.argsort(-raw[again], axis=1)  # Quantus's order, ties included
        ranked_region = np.take_along_axis(mask[again], order, axis=1)
        hits_k[again] = ranked_region[:, :k].sum(1)
        if "relevance_rank_accuracy" in names:
            cum = np.cumsum(ranked_region, axis=1, dtype=np.int32)
            hits_s[again] = cum[np.arange(len(again)), np.maximum(size[again] - 1, 0)]
        if top is not None:
            redone = np.zeros((len(again), n), bool)
            np.put_along_axis(redone, order[:, :k], True, axis=1)
            top[again] = redone
    if "regional_recall" in names:
        out["regional_recall"] = _ratio(hits_k, size)
    if "top_k_intersection" in names:
        out["top_k_intersection"] = hits_k / k
    if "relevance_rank_accuracy" in names:
        out["relevance_rank_accuracy"] = _ratio(hits_s, size)
    if top is not None:
        stand_in = broken | clash if short else broken  # NaN anyway, or redone exactly below
        if stand_in.any():  # any k pixels
            top[stand_in] = False
            top[stand_in, :k] = True
        out["components"], out["largest_component_share"] = _coherence(top.reshape(b, *shape), k)
    out = {name: np.asarray(v, dtype=np.float64) for name, v in out.items() if name in names}
    if short and clash.any():
        again = np.flatnonzero(clash)
        exact_out, exact_flat = _ranked(
            flat[again], mask[again], raw[again], broken[again], size[again], k, names, shape, True
        )
        for name, values in exact_out.items():
            out[name][again] = values
        flat_map[again] = exact_flat
    return out, flat_map


def mass_share(attributions: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Share of the positive attribution mass inside ``masks`` per image (regional precision)."""
    a = _as_numpy(attributions, np.float32)
    m = _as_numpy(masks, bool).reshape(len(a), -1)
    out = _mass_share(np.maximum(a.reshape(len(a), -1), 0), m)
    out[~m.any(1)] = np.nan
    return out


def _mass_share(weights: np.ndarray, mask: np.ndarray) -> np.ndarray:
    total = weights.sum(1, dtype=np.float64)
    inside = np.where(mask, weights, 0).sum(1, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, inside / total, np.nan)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.maximum(den, 1), np.nan)


def _auc(value: np.ndarray, region: np.ndarray) -> np.ndarray:
    """ROC AUC per row from ascending values with the region's pixels last among equals.

    A region pixel at column j has j − (region pixels before it) others below or level with it,
    so U⁺ = Σ j − P(P−1)/2 counts ties fully; ties count half (as ``sklearn.metrics.roc_curve``
    does): U = U⁺ − ½ Σ_groups pos_g·neg_g over groups of equal values, found only in rows
    that have any.
    """
    n = value.shape[1]
    n_pos = region.sum(1).astype(np.float64)
    n_neg = n - n_pos
    u = region.astype(np.float64) @ np.arange(n, dtype=np.float64) - n_pos * (n_pos - 1) / 2
    equal = value[:, 1:] == value[:, :-1]
    tied = np.flatnonzero(equal.any(1))
    if len(tied):
        u[tied] -= _tied_pairs(equal[tied], region[tied]) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((n_pos > 0) & (n_neg > 0), u / (n_pos * n_neg), np.nan)


def _tied_pairs(equal: np.ndarray, region: np.ndarray) -> np.ndarray:
    """Σ over groups of equal values of (region pixels × other pixels in the group), per row."""
    r, n = region.shape
    member = np.zeros((r, n), bool)  # pixels in a group of two or more
    member[:, 1:] = equal
    member[:, :-1] |= equal
    first = np.ones((r, n), bool)
    first[:, 1:] = ~equal
    at = np.flatnonzero(member)
    starts = first.ravel()[at]
    group = np.cumsum(starts) - 1
    pos = np.bincount(group, weights=region.ravel()[at])
    count = np.bincount(group)
    row = at[starts] // n
    return np.bincount(row, weights=pos * (count - pos), minlength=r)


def _coherence(top: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Connected components (8-connected) of each top set (k pixels) and the largest one's share.

    One ``ndimage.label`` call labels the whole batch; labels grow image by image in raster
    order, so each image's labels are one contiguous range, read off its top pixels.
    """
    b = len(top)
    labels, _ = ndimage.label(top, structure=_STRUCTURE)
    own = labels[top].reshape(b, k)  # every top set has exactly k pixels
    last = own.max(1)
    first = np.concatenate([[0], last[:-1]])
    sizes = np.bincount(own.ravel(), minlength=last[-1] + 1)[1:]
    largest = np.maximum.reduceat(sizes, first)
    return (last - first).astype(np.float64), largest / k
