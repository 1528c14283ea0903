"""The map's logic: which rows it draws, as WebGL points or a density image, and what a click,
a lasso or a zoom on it means.

:class:`MapViews` is part of :class:`~celebalab.explorer.views.Explorer` (its base class): it
reads the Explorer's sources, pipelines and subset masks. Map rows: without context the map
draws the rows passing the filters (and the chosen cluster) in dataset order; with context
every row, the others greyed. A point's position among the drawn rows maps it back to a dataset
row on the server, so no row list has to travel with a click.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from celebalab.explorer import _density as density
from celebalab.explorer import _figures as figures
from celebalab.explorer._filters import Filter, filter_key
from celebalab.explorer._pipeline import SourcePipeline
from celebalab.explorer.sources import ExplorerSource

#: Maps (and cluster descriptions) kept in memory: going back to a view is free.
KEPT_VIEWS = 4
_NUMBERED = re.compile(r"^(\d+)(\.[A-Za-z]{3})$")


def numbered_stems(image_ids: Sequence[str]) -> tuple[np.ndarray, str] | None:
    """(the numbers, ``"06d.jpg"``) when every id is a zero-padded number of one width and
    extension, else None.

    Then the map sends the number (int32) and the browser formats the name back, instead of
    sending 202,599 strings. Vectorised (NumPy string functions): 0.1 s for 202,599 ids where a
    per-id regular expression took 0.5 s of the start-up.
    """
    ids = np.asarray(image_ids, dtype=str)
    if ids.size == 0 or not _NUMBERED.match(ids[0]):
        return None
    width = len(ids[0])
    ext = ids[0][-4:]
    numbers = np.strings.slice(ids, 0, width - 4)
    if not (
        (np.strings.str_len(ids) == width).all()
        and np.strings.endswith(ids, ext).all()
        and np.strings.isdigit(numbers).all()
    ):
        return None
    return numbers.astype(np.int64), f"0{width - 4}d{ext}"


class MapViews:
    """The map's methods of the Explorer (which sets ``sources``, ``pipelines``, ``mask``,
    ``title`` and ``person_rows``)."""

    sources: list[ExplorerSource]
    pipelines: list[SourcePipeline | None]

    def __init__(self, *, point_budget: int) -> None:
        """``point_budget``: above this many map points the map is the density image."""
        self.point_budget = point_budget
        self._hover: dict[int, tuple[np.ndarray, str | None]] = {}
        self._maps: OrderedDict[str, dict] = OrderedDict()
        self._map_lock = threading.Lock()
        self._last_click: tuple[str, int | None] | None = None

    def _hover_data(self, src: int) -> tuple[np.ndarray, str | None]:
        if src not in self._hover:
            meta = self.sources[src].meta
            numbered = numbered_stems(meta["image_id"].to_numpy())
            stems, fmt = numbered if numbered else (np.zeros(len(meta), np.int64), None)
            hover = np.column_stack([meta["identity"].to_numpy(), stems]).astype(np.int32)
            self._hover[src] = (hover, fmt)
        return self._hover[src]

    def active_mask(
        self,
        src: int,
        filters: Sequence[Filter],
        *,
        clustering: Mapping[str, Any] | None = None,
        cluster: int | None = None,
    ) -> np.ndarray:
        """Rows passing the filters and, when ``cluster`` is chosen, in that cluster."""
        mask = self.mask(src, filters)
        if cluster is not None and clustering is not None and self.pipelines[src] is not None:
            mask &= self.pipelines[src].labels(**clustering) == int(cluster)
        return mask

    def map_rows(
        self,
        src: int,
        filters: Sequence[Filter],
        *,
        clustering: Mapping[str, Any] | None = None,
        cluster: int | None = None,
        context: bool = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(the dataset rows the map draws, in order; which of them are active).

        Without ``context`` the map draws only the active rows (filters, cluster); with it,
        every row, the others greyed (kept as context)."""
        active = self.active_mask(src, filters, clustering=clustering, cluster=cluster)
        if context:
            return np.arange(active.size), active
        rows = np.flatnonzero(active)
        return rows, np.ones(rows.size, dtype=bool)

    def map_points(
        self,
        src: int,
        clustering: Mapping[str, Any],
        filters: Sequence[Filter],
        *,
        cluster: int | None = None,
        context: bool = False,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(every row's map position, the rows the map draws, their colour codes)."""
        pipeline = self.pipelines[src]
        rows, active = self.map_rows(
            src, filters, clustering=clustering, cluster=cluster, context=context
        )
        codes = figures.map_codes(pipeline.labels(**clustering)[rows], active)
        return np.asarray(pipeline.map(clustering["reducer"])), rows, codes

    def map_data(
        self,
        src: int,
        clustering: Mapping[str, Any],
        filters: Sequence[Filter],
        person: int | None,
        *,
        cluster: int | None = None,
        context: bool = False,
    ) -> dict:
        """The map of the filtered rows coloured by cluster, the person's faces ringed:
        :func:`figures.map_spec` (WebGL points), :func:`figures.density_spec` above the point
        budget, or ``{"figure": …}`` (a blank one) without embeddings.

        ``cluster`` keeps only that cluster, ``context`` greys what is not kept instead of
        hiding it. The last few are kept (building one of 202,599 points takes ~0.2 s): the
        first page load gets the one :meth:`warm_up` built, and going back to a view is free."""
        pipeline = self.pipelines[src]
        if pipeline is None:
            note = self.sources[src].note or "no embeddings"
            return {"figure": figures.empty_figure(note).to_plotly_json()}
        key = repr(
            (src, clustering["reducer"], self._label_key(src, clustering), filter_key(filters),
             person, cluster, bool(context))
        )  # fmt: skip
        with self._map_lock:  # the warm-up thread and the first callback build it once
            if key in self._maps:
                self._maps.move_to_end(key)
                return self._maps[key]
            data = self._build_map(src, clustering, filters, person, cluster, context)
            self._maps[key] = data
            while len(self._maps) > KEPT_VIEWS:
                self._maps.popitem(last=False)
            return data

    def _label_key(self, src: int, clustering: Mapping[str, Any]) -> dict[str, Any]:
        return self.pipelines[src].label_params(
            clustering["reducer"], clustering["order"], clustering["method"], clustering["params"]
        )

    def _build_map(
        self,
        src: int,
        clustering: Mapping[str, Any],
        filters: Sequence[Filter],
        person: int | None,
        cluster: int | None,
        context: bool,
    ) -> dict:
        xy, rows, codes = self.map_points(
            src, clustering, filters, cluster=cluster, context=context
        )
        title = self.map_title(src, clustering, filters, cluster=cluster, context=context)
        if rows.size > self.point_budget:
            png, x_range, y_range = density_png(xy, rows, codes)
            return figures.density_spec(density.data_url(png), x_range, y_range, title, rows.size)
        hover, fmt = self._hover_data(src)
        names = None if fmt else self.sources[src].meta["image_id"].to_numpy()[rows].tolist()
        ring = np.intersect1d(self.person_rows(src, person), rows)
        return figures.map_spec(
            xy[rows],
            codes,
            hover[rows],
            fmt,
            names,
            title,
            highlight=np.searchsorted(rows, ring) if ring.size else None,
            rows=None if context else rows,
        )

    def map_title(
        self,
        src: int,
        clustering: Mapping[str, Any],
        filters: Sequence[Filter],
        *,
        cluster: int | None = None,
        context: bool = False,
    ) -> str:
        """Map title: reducer, method, number of clusters and noise, the subset in words."""
        labels = self.pipelines[src].labels(**clustering)
        shown = labels[self.mask(src, filters)]
        n_clusters = int(np.unique(labels[labels >= 0]).size)
        noise = int((shown < 0).sum())
        noise_text = f", {noise:,} noise" if noise else ""
        order = "cluster → reduce" if clustering["order"] == "cluster_first" else "reduce → cluster"
        chosen = "" if cluster is None else f" · cluster {cluster}"
        greyed = " (the rest greyed)" if context and (filters or cluster is not None) else ""
        return (
            f"{clustering['reducer'].upper()} map · {clustering['method']} ({n_clusters} "
            f"clusters{noise_text}, {order}) · {self.title(src, filters, None)}{chosen}{greyed}"
        )

    def map_colours(
        self,
        src: int,
        clustering: Mapping[str, Any],
        filters: Sequence[Filter],
        *,
        cluster: int | None = None,
        context: bool = False,
    ) -> dict[str, str]:
        """Only the colour array of the map (typed-array spec): a re-clustering sends this."""
        _, _, codes = self.map_points(src, clustering, filters, cluster=cluster, context=context)
        return figures.typed_array(codes)

    def is_density_map(self, src: int, filters: Sequence[Filter], *, context: bool = False) -> bool:
        """Whether the map of this view is the density image (more points than the budget)."""
        if self.pipelines[src] is None:
            return False
        count = len(self.sources[src]) if context else int(self.mask(src, filters).sum())
        return count > self.point_budget

    def density_view(
        self,
        src: int,
        clustering: Mapping[str, Any],
        filters: Sequence[Filter],
        x_range: density.Range,
        y_range: density.Range,
        *,
        cluster: int | None = None,
        context: bool = False,
    ) -> str:
        """The density image (``data:`` URL) of the view's points inside the given ranges:
        what a zoom on the density map shows."""
        xy, rows, codes = self.map_points(
            src, clustering, filters, cluster=cluster, context=context
        )
        return density.data_url(density_png(xy, rows, codes, (x_range, y_range))[0])

    def nearest_row(
        self,
        src: int,
        clustering: Mapping[str, Any],
        filters: Sequence[Filter],
        click: Mapping[str, Any] | None,
        *,
        cluster: int | None = None,
        context: bool = False,
    ) -> int | None:
        """Dataset row of the map point nearest to a click on the density map
        (``{"x", "y", "radius"}`` in map units), or None when none lies within the radius."""
        if not click or self.pipelines[src] is None:
            return None
        key = repr((src, dict(click), clustering, filter_key(filters), cluster, context))
        last = self._last_click  # the image panel and the similar faces ask for the same click
        if last is not None and last[0] == key:
            return last[1]
        xy = np.asarray(self.pipelines[src].map(clustering["reducer"]))
        rows, _ = self.map_rows(
            src, filters, clustering=clustering, cluster=cluster, context=context
        )
        found = density.nearest(
            xy if rows.size == len(xy) else xy[rows], click["x"], click["y"], click["radius"]
        )
        row = None if found is None else int(rows[found])
        self._last_click = (key, row)
        return row

    def point_row(
        self,
        src: int,
        click: Mapping[str, Any] | None,
        filters: Sequence[Filter],
        person: int | None,
        *,
        clustering: Mapping[str, Any] | None = None,
        cluster: int | None = None,
        context: bool = False,
    ) -> int | None:
        """Dataset row of a clicked map point (any trace: its ``customdata[2]`` is the
        point's position among the map's rows, see :func:`figures.map_spec`)."""
        if not click or not click.get("points"):
            return None
        index = _position(click["points"][0])
        rows, _ = self.map_rows(
            src, filters, clustering=clustering, cluster=cluster, context=context
        )
        return int(rows[index]) if 0 <= index < rows.size else None

    def selected_rows(
        self,
        src: int,
        selected: Mapping[str, Any] | None,
        filters: Sequence[Filter],
        *,
        clustering: Mapping[str, Any] | None = None,
        cluster: int | None = None,
        context: bool = False,
    ) -> np.ndarray:
        """Dataset rows of a lasso/box selection on the map (each once, in dataset order);
        greyed context points are not part of it."""
        if not selected or not selected.get("points"):
            return np.zeros(0, dtype=np.int64)
        rows, active = self.map_rows(
            src, filters, clustering=clustering, cluster=cluster, context=context
        )
        picked = [i for i in map(_position, selected["points"]) if 0 <= i < rows.size]
        picked = [i for i in picked if active[i]]
        return np.unique(rows[picked]) if picked else np.zeros(0, dtype=np.int64)


def density_png(
    xy: np.ndarray,
    rows: np.ndarray,
    codes: np.ndarray,
    ranges: tuple[density.Range, density.Range] | None = None,
) -> tuple[bytes, density.Range, density.Range]:
    """(the density PNG of the map's ``rows``, its x and y ranges: ``ranges`` or all of them)."""
    points = xy if rows.size == len(xy) else xy[rows]
    x_range, y_range = ranges or density.bounds(points)
    png = density.render_png(points, codes, figures.MAP_PALETTE, x_range, y_range)
    return png, x_range, y_range


def _position(point: Mapping[str, Any]) -> int:
    """A map point's position among the filtered rows (``customdata[2]``), -1 if it has none."""
    data = point.get("customdata")
    return int(data[2]) if isinstance(data, list | tuple) and len(data) == 3 else -1
