"""What a callback request may carry: every menu value is checked before any callback runs.

The page only sends values its menus offer; a hand-made request with a wrong one (a source that
does not exist, ``k = 100000``, an upload that is not text) is answered 400 with one line naming
the value, instead of a 500 from deep inside a view. Numbers must be plain integers in range, so
``source = -1`` never wraps to the last source. Request bodies are capped (:func:`body_limit`):
a huge POST is refused (413) before it is read.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from celebalab.datasets.schema import ATTRIBUTE_NAMES
from celebalab.errors import CelebalabError
from celebalab.explorer._clustering import CLUSTERERS
from celebalab.explorer._pipeline import ORDERS
from celebalab.explorer._projections import REDUCERS
from celebalab.explorer._selection import COLUMNS, MAX_PAGE_SIZE

#: The largest ``k`` the menu offers (K-means, hierarchical clusters).
MAX_K = 60
#: The largest count parameter (DBSCAN's min samples, HDBSCAN's min cluster size).
MAX_COUNT = 1_000_000
#: Bytes a lasso selection sends per map point (plotly's point record, generously).
SELECTED_POINT_BYTES = 160
_SLACK = 1024 * 1024


class RequestValueError(CelebalabError):
    """A callback request carries a value the page never sends (answered 400)."""


def body_limit(max_upload_bytes: int, most_points: int) -> int:
    """The request-body cap: the larger legitimate request (an upload at its size limit, as the
    base64 data URL it travels as, or a lasso around every point of the largest map) plus 1 MB
    for the rest of the request."""
    upload = -(-max_upload_bytes // 3) * 4
    return max(upload, most_points * SELECTED_POINT_BYTES) + _SLACK


def check_request(payload: Any, n_sources: int) -> None:
    """Raise :class:`RequestValueError` for the first wrong value in a Dash callback request."""
    if not isinstance(payload, Mapping):
        raise RequestValueError("the request is not a callback request (expected a JSON object)")
    for item in _items(payload):
        component, prop = item.get("id"), item.get("property")
        if isinstance(component, Mapping):
            _check_pattern_id(component)
            continue
        check = _CHECKS.get((component, prop)) if isinstance(component, str) else None
        if check is not None:
            check(item.get("value"), n_sources)


def _check_pattern_id(component: Mapping[str, Any]) -> None:
    """A cluster button's id carries its cluster label: an integer."""
    if component.get("type") in ("cluster-pick", "cluster-chip"):
        label = component.get("label")
        if not _is_int(label) or not -1 <= label < 2**31:
            raise RequestValueError(f"a cluster label must be an integer, not {label!r}")


def _items(payload: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """The inputs and states of a request, pattern-matching groups flattened."""
    for key in ("inputs", "state"):
        group = payload.get(key) or []
        if not isinstance(group, list):
            raise RequestValueError(f"the request's {key} must be a list")
        for item in group:
            for entry in item if isinstance(item, list) else [item]:
                if not isinstance(entry, Mapping):
                    raise RequestValueError(f"the request's {key} must hold objects")
                yield entry


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _integer(name: str, low: int, high: int, optional: bool = True) -> Callable[[Any, int], None]:
    def check(value: Any, _n_sources: int) -> None:
        if value is None and optional:
            return
        if not _is_int(value) or not low <= value <= high:
            raise RequestValueError(
                f"{name} must be an integer from {low} to {high}, not {value!r}"
            )

    return check


def _source(value: Any, n_sources: int) -> None:
    if not _is_int(value) or not 0 <= value < n_sources:
        raise RequestValueError(
            f"source must be an integer from 0 to {n_sources - 1}, not {value!r}"
        )


def _eps(value: Any, _n_sources: int) -> None:
    if value is None:
        return
    if (
        not isinstance(value, int | float)
        or isinstance(value, bool)
        or not (math.isfinite(value) and value > 0)
    ):
        raise RequestValueError(f"eps must be a positive number, not {value!r}")


def _choice(name: str, allowed: tuple[str, ...]) -> Callable[[Any, int], None]:
    def check(value: Any, _n_sources: int) -> None:
        if value not in allowed:
            raise RequestValueError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")

    return check


def _optional_text(name: str) -> Callable[[Any, int], None]:
    def check(value: Any, _n_sources: int) -> None:
        if value is not None and not isinstance(value, str):
            raise RequestValueError(f"{name} must be text, not {type(value).__name__}")

    return check


def _attributes(value: Any, _n_sources: int) -> None:
    if value is None:
        return
    if not isinstance(value, list) or not all(a in ATTRIBUTE_NAMES for a in value):
        raise RequestValueError(
            f"attributes must be a list of CelebA attribute names, not {value!r}"
        )


def _filters(value: Any, _n_sources: int) -> None:
    if value is None:
        return
    if not isinstance(value, list) or not all(
        isinstance(f, Mapping)
        and f.get("attribute") in ATTRIBUTE_NAMES
        and _is_int(f.get("value"))
        and f.get("value") in (0, 1)
        for f in value
    ):
        raise RequestValueError(
            "filters must be a list of {attribute: a CelebA attribute, value: 0 or 1}"
        )


def _event(name: str) -> Callable[[Any, int], None]:
    """A plotly event (click, selection): None or an object whose points are objects."""

    def check(value: Any, _n_sources: int) -> None:
        if value is None:
            return
        points = value.get("points", []) if isinstance(value, Mapping) else None
        if not isinstance(points, list) or not all(isinstance(p, Mapping) for p in points):
            raise RequestValueError(f"{name} must be a plotly event with a list of points")

    return check


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _flag(name: str) -> Callable[[Any, int], None]:
    def check(value: Any, _n_sources: int) -> None:
        if value is not None and not isinstance(value, bool):
            raise RequestValueError(f"{name} must be true or false, not {value!r}")

    return check


def _map_click(value: Any, _n_sources: int) -> None:
    """A click on the density map: its map coordinates and search radius (positive)."""
    if value is None:
        return
    if not (
        isinstance(value, Mapping)
        and all(_is_number(value.get(k)) for k in ("x", "y", "radius", "t"))
        and value["radius"] > 0
    ):
        raise RequestValueError("a density-map click must be {x, y, radius > 0, t} numbers")


def _map_zoom(value: Any, _n_sources: int) -> None:
    """A zoom of the density map: two increasing finite ranges."""
    if value is None:
        return
    ranges = [value.get(k) for k in ("x", "y")] if isinstance(value, Mapping) else [None]
    if not all(
        isinstance(r, list) and len(r) == 2 and all(map(_is_number, r)) and r[0] != r[1]
        for r in ranges
    ):
        raise RequestValueError("a density-map zoom must be {x: [low, high], y: [low, high]}")


def _sort_by(value: Any, _n_sources: int) -> None:
    if value is None:
        return
    if not isinstance(value, list) or not all(
        isinstance(s, Mapping)
        and s.get("column_id") in COLUMNS
        and s.get("direction") in ("asc", "desc")
        for s in value
    ):
        raise RequestValueError(
            "the table's sort must be a list of {column_id: a table column, direction: asc|desc}"
        )


_CHECKS: dict[tuple[str, str], Callable[[Any, int], None]] = {
    ("source", "value"): _source,
    ("reducer", "value"): _choice("reducer", REDUCERS),
    ("order", "value"): _choice("order", ORDERS),
    ("method", "value"): _choice("method", CLUSTERERS),
    ("k", "value"): _integer("k", 1, MAX_K),
    ("eps", "value"): _eps,
    ("min-samples", "value"): _integer("min samples", 1, MAX_COUNT),
    ("min-cluster-size", "value"): _integer("min cluster size", 1, MAX_COUNT),
    ("person", "value"): _integer("person", -(2**31), 2**31 - 1),
    ("person", "search_value"): _optional_text("the person search"),
    ("attributes", "value"): _attributes,
    ("filters", "data"): _filters,
    ("pie-page", "data"): _integer("pie page", -(2**31), 2**31 - 1, optional=False),
    ("upload", "contents"): _optional_text("the upload"),
    ("pies", "clickData"): _event("a pie click"),
    ("map", "clickData"): _event("a map click"),
    ("map", "selectedData"): _event("a map selection"),
    ("tree", "clickData"): _event("a tree click"),
    ("cluster", "data"): _integer("cluster", -1, 2**31 - 1),
    ("context", "value"): _flag("the context switch"),
    ("map-click", "data"): _map_click,
    ("map-zoom", "data"): _map_zoom,
    ("table", "page_current"): _integer("the table page", 0, 2**31 - 1),
    ("table", "page_size"): _integer("the table page size", 1, MAX_PAGE_SIZE),
    ("table", "sort_by"): _sort_by,
    ("export-csv", "n_clicks"): _integer("clicks", 0, 2**31 - 1),
    ("export-parquet", "n_clicks"): _integer("clicks", 0, 2**31 - 1),
}
