"""The subset every view shows: attribute = value filters (the chips) and an optional person.

Filters are plain JSON (a list of ``{"attribute": name, "value": 0|1}``) so they live in a
``dcc.Store``; the functions here are what the callbacks call, and what the unit tests check.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from celebalab.datasets.schema import ATTRIBUTE_NAMES

Filter = Mapping[str, Any]


def add_filter(filters: Sequence[Filter], attribute: str, value: int) -> list[dict[str, Any]]:
    """Filters with ``attribute = value`` added; a filter on the same attribute is replaced."""
    if attribute not in ATTRIBUTE_NAMES:
        raise ValueError(f"unknown attribute {attribute!r}")
    if value not in (0, 1):
        raise ValueError(f"attribute values are 0 or 1, got {value!r}")
    kept = [dict(f) for f in filters if f["attribute"] != attribute]
    return [*kept, {"attribute": attribute, "value": int(value)}]


def remove_filter(filters: Sequence[Filter], attribute: str) -> list[dict[str, Any]]:
    """Filters without the one on ``attribute`` (unchanged when there is none)."""
    return [dict(f) for f in filters if f["attribute"] != attribute]


def subset_mask(meta: pd.DataFrame, filters: Sequence[Filter], person: int | None = None):
    """Boolean mask (N,) of the rows that pass every filter (and show ``person`` if given)."""
    mask = np.ones(len(meta), dtype=bool)
    for f in filters:
        mask &= meta[f["attribute"]].to_numpy() == int(f["value"])
    if person is not None:
        mask &= meta["identity"].to_numpy() == int(person)
    return mask


def filter_key(filters: Sequence[Filter]) -> tuple:
    """The filters as a hashable key (caches of views)."""
    return tuple((f["attribute"], f["value"]) for f in filters)


def filter_label(f: Filter) -> str:
    """Chip text, e.g. ``Eyeglasses = yes``."""
    return f"{f['attribute'].replace('_', ' ')} = {'yes' if f['value'] else 'no'}"


def describe_subset(count: int, total: int, filters: Sequence[Filter], person: int | None) -> str:
    """A title that says what a view shows: ``all 202,599 images``, ``person 4153, 23 images``,
    ``Male = yes: 84,434 of 202,599 images`` …"""
    noun = "image" if count == 1 else "images"
    conditions = "; ".join(filter_label(f) for f in filters)
    if person is None and not filters:
        return f"all {total:,} images"
    if person is None:
        return f"{conditions}: {count:,} of {total:,} images"
    if not filters:
        return f"person {person}, {count:,} {noun}"
    return f"person {person} with {conditions}: {count:,} {noun}"


def attribute_counts(meta: pd.DataFrame, mask: np.ndarray, attributes: Sequence[str]):
    """Rows of the subset with each attribute = 0 and = 1 (missing labels are not counted)."""
    chosen = meta.loc[mask, list(attributes)]
    return pd.DataFrame(
        {0: (chosen == 0).sum().to_numpy(), 1: (chosen == 1).sum().to_numpy()},
        index=pd.Index(list(attributes), name="attribute"),
    )


def phi_matrix(meta: pd.DataFrame, mask: np.ndarray, attributes: Sequence[str]) -> pd.DataFrame:
    """Phi correlation of ``attributes`` over the subset's rows where all of them are labelled."""
    from celebalab.analysis.associations import phi_table

    values = meta.loc[mask, list(attributes)].to_numpy()
    values = values[(values >= 0).all(axis=1)]
    return phi_table(values.astype(np.uint8), list(attributes))


def attribute_shares(meta: pd.DataFrame, rows: np.ndarray) -> pd.Series:
    """Share of labelled rows with each of the 40 attributes = 1 among ``rows``."""
    values = meta[list(ATTRIBUTE_NAMES)].to_numpy()[np.asarray(rows)]
    labelled = (values >= 0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(labelled > 0, (values == 1).sum(axis=0) / labelled, np.nan)
    return pd.Series(share, index=list(ATTRIBUTE_NAMES))


def pie_page(attributes: Sequence[str], page: int, per_page: int) -> tuple[list[str], int, int]:
    """(attributes on page ``page`` wrapped into range, that page, number of pages)."""
    pages = max(1, -(-len(attributes) // per_page))
    page = page % pages
    return list(attributes[page * per_page : (page + 1) * per_page]), page, pages
