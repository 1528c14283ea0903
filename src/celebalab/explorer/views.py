"""Callback logic as plain methods: what each view shows for the current UI state.

The Dash callbacks in :mod:`celebalab.explorer.app` only unpack their inputs and call these;
everything here returns figures, row numbers or small dicts, so it is unit-tested without a
browser. The map's methods are in :mod:`celebalab.explorer._mapviews` (the base class).
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from celebalab.datasets.schema import ATTRIBUTE_NAMES
from celebalab.explorer import _clustering as clustering
from celebalab.explorer import _density as density
from celebalab.explorer import _figures as figures
from celebalab.explorer import _selection as selection
from celebalab.explorer._cache import cache_key
from celebalab.explorer._dendrogram import Tree, build_tree, dendrogram_figure
from celebalab.explorer._describe import (
    Description,
    attribute_values,
    describe_clusters,
    describe_rows,
    rates,
)
from celebalab.explorer._filters import (
    Filter,
    attribute_counts,
    attribute_shares,
    describe_subset,
    filter_key,
    phi_matrix,
    pie_page,
    subset_mask,
)
from celebalab.explorer._images import ImageStore, UploadError
from celebalab.explorer._mapviews import KEPT_VIEWS, MapViews, density_png
from celebalab.explorer._pipeline import SourcePipeline
from celebalab.explorer.sources import ExplorerSource

DEFAULT_ATTRIBUTES = ("Male", "Eyeglasses", "Smiling", "Young")
PIES_PER_PAGE = 4
GALLERY_CAP = 60
SIMILAR_K = 12
TREE_LEAVES = 40
#: The first view: what the menu starts with and what start-up precomputes.
DEFAULT_CLUSTERING: dict[str, Any] = {
    "reducer": "pca",
    "order": "reduce_first",
    "method": "kmeans",
    "params": {"k": 8, "eps": 0.5, "min_samples": 10, "min_cluster_size": 20},
}
#: Faces shown per cluster in the cluster gallery.
CLUSTER_SAMPLE = 8
#: Seconds the warm-up waits for the first view before it preloads K-means' libraries anyway.
PRELOAD_WAIT = 20.0


class Explorer(MapViews):
    """The app's state on the server: sources, their cached pipelines and images."""

    def __init__(
        self, *, sources: Sequence[ExplorerSource], point_budget: int = density.POINT_BUDGET
    ) -> None:
        """``point_budget``: above this many map points the map is the density image."""
        super().__init__(point_budget=point_budget)
        self.sources = list(sources)
        self.pipelines = [
            SourcePipeline(source=s) if s.has_embeddings else None for s in self.sources
        ]
        self.images = ImageStore(sources=self.sources)
        self._trees: dict[tuple, Tree | None] = {}
        self._described: OrderedDict[str, tuple[dict[int, Description], dict]] = OrderedDict()
        self._base_rates: dict[int, np.ndarray] = {}
        self._first_view_answered = threading.Event()

    def warm_up(self, *, preload_after_first_view: bool = False) -> None:
        """Compute (or load) what the first view needs for every source, with progress lines,
        then what the first interactions need: the neighbour index (the first click's similar
        faces) and K-means' libraries (the first new k).

        ``preload_after_first_view``: import those libraries only once the page's first view
        has been answered (:meth:`first_view_answered`, or after ``PRELOAD_WAIT`` seconds).
        Importing them (scikit-learn, FAISS: 1-3 s of CPU holding the GIL on 2 cores) while the
        page loads made the first view's callbacks wait for it.

        ``celebalab explore`` runs this in a background thread while the server already
        answers (the pies come with the page itself): a callback that needs a result first
        waits for it (:class:`~celebalab.explorer._cache.ResultCache` computes each key once).
        """
        for src, pipeline in enumerate(self.pipelines):
            if pipeline is not None:
                self.map_data(src, DEFAULT_CLUSTERING, [], None)
                pipeline.summary()
                pipeline.silhouette(**DEFAULT_CLUSTERING)
                pipeline.index  # noqa: B018 (a cached property: built here, once)
        if preload_after_first_view:
            self._first_view_answered.wait(timeout=PRELOAD_WAIT)
        clustering.preload()
        self.render_preview()

    def first_view_answered(self) -> None:
        """Called when the page's last first-view callback (the metrics box) has answered."""
        self._first_view_answered.set()

    def _preview_key(self) -> str | None:
        pipeline = self.pipelines[0] if self.pipelines else None
        if pipeline is None:
            return None
        params = {**self._label_key(0, DEFAULT_CLUSTERING), "size": [density.WIDTH,
                  density.HEIGHT], "budget": self.point_budget}  # fmt: skip
        return cache_key(pipeline.source.fingerprint, "density-preview", params)

    def render_preview(self) -> None:
        """Render (once, then cached on disk as PNG bytes) the density image of the page's first
        map, which :meth:`first_preview` puts into the page."""
        key = self._preview_key()
        if key is None:
            return

        def png() -> np.ndarray:
            points = self.map_points(0, DEFAULT_CLUSTERING, [])
            return np.frombuffer(density_png(*points)[0], dtype=np.uint8)

        self.pipelines[0].cache.get_or_compute(key, png)

    def first_preview(self) -> str | None:
        """The density image of the page's first map as a ``data:`` URL, when it has been
        rendered (:meth:`render_preview`), else None: the page never waits for it."""
        key = self._preview_key()
        found = None if key is None else self.pipelines[0].cache.get(key)
        return None if found is None else density.data_url(np.asarray(found).tobytes())

    def first_page(self) -> tuple[go.Figure, str]:
        """The pies (and their page label) of the page as it opens: source 0, default
        attributes. They come with the page, so they draw without a callback's round trip."""
        return self.pie_figures(0, list(DEFAULT_ATTRIBUTES), [], None, 0)

    # -- selection of rows ---------------------------------------------------------------------
    def mask(self, src: int, filters: Sequence[Filter], person: int | None = None) -> np.ndarray:
        """Rows passing the filters (and of ``person``), as a boolean mask."""
        return subset_mask(self.sources[src].meta, filters, person)

    def title(self, src: int, filters: Sequence[Filter], person: int | None) -> str:
        """What the current subset is, in words."""
        count = int(self.mask(src, filters, person).sum())
        return describe_subset(count, len(self.sources[src]), filters, person)

    def person_rows(self, src: int, person: int | None) -> np.ndarray:
        """Every row of ``person`` (all their images), in dataset order."""
        if person is None:
            return np.zeros(0, dtype=np.int64)
        return np.flatnonzero(self.sources[src].meta["identity"].to_numpy() == int(person))

    def person_options(self, src: int, search: str | None, limit: int = 50) -> list[dict]:
        """Dropdown options of person ids starting with ``search`` (most images first)."""
        identity = self.sources[src].meta["identity"]
        counts = identity[identity >= 0].value_counts()
        ids = counts.index.astype(str)
        if search:
            counts = counts[ids.str.startswith(search.strip())]
        top = counts.head(limit)
        return [{"label": f"{pid} ({n} images)", "value": int(pid)} for pid, n in top.items()]

    # -- metrics box ---------------------------------------------------------------------------
    def metrics(self, src: int, clustering: Mapping[str, Any] | None) -> list[tuple[str, str]]:
        """Rows of the metrics box; the silhouette is that of ``clustering`` (or n/a)."""
        source, pipeline = self.sources[src], self.pipelines[src]
        summary = (
            pipeline.summary()
            if pipeline
            else {
                "images": len(source),
                "dim": None,
                "knn_accuracy": None,
                "identities": int(source.meta["identity"][source.meta["identity"] >= 0].nunique()),
            }
        )
        rows = [("images", f"{summary['images']:,}"), ("identities", f"{summary['identities']:,}")]
        if pipeline is None:
            return rows
        rows += [
            ("dimension", str(summary["dim"])),
            ("PCA: components for 95 %", str(summary["pca_components"])),
            ("PCA: variance in the 2-D map", f"{100 * summary['pca_variance_2d']:.1f} %"),
            ("identity 1-NN accuracy", _percent(summary["knn_accuracy"])),
        ]
        if clustering is not None:
            value = pipeline.silhouette(**clustering)
            rows.append(
                ("silhouette (current clustering)", "n/a" if math.isnan(value) else f"{value:.3f}")
            )
        return rows

    # -- attributes ----------------------------------------------------------------------------
    def pie_figures(
        self,
        src: int,
        attributes: Sequence[str],
        filters: Sequence[Filter],
        person: int | None,
        page: int,
    ) -> tuple[go.Figure, str]:
        """(pies of the page's attributes, ``page i of n``)."""
        mask = self.mask(src, filters, person)
        shown, page, pages = pie_page(list(attributes), page, PIES_PER_PAGE)
        counts = attribute_counts(self.sources[src].meta, mask, shown)
        pies = figures.pie_figure(counts, self.title(src, filters, person), columns=2)
        return pies, f"page {page + 1} of {pages}"

    def phi_figure(
        self, src: int, attributes: Sequence[str], filters: Sequence[Filter], person: int | None
    ) -> go.Figure:
        """The phi correlation matrix of all chosen attributes over the subset."""
        mask = self.mask(src, filters, person)
        if len(attributes) < 2 or not mask.any():
            return figures.empty_figure("choose two or more attributes for their correlation")
        phi = phi_matrix(self.sources[src].meta, mask, attributes)
        return figures.phi_figure(phi, self.title(src, filters, person))

    # -- the selection -------------------------------------------------------------------------
    def selection_rows(
        self,
        src: int,
        clustering: Mapping[str, Any] | None,
        filters: Sequence[Filter],
        person: int | None = None,
        cluster: int | None = None,
        selected: Mapping[str, Any] | None = None,
        context: bool = False,
    ) -> np.ndarray:
        """The current selection: the lasso or box on the map when there is one (``selected``,
        as plotly reports it, for a map drawn with ``context``), else the chosen person's faces;
        either within the filters and the chosen cluster (what the map keeps)."""
        mask = self.active_mask(src, filters, clustering=clustering, cluster=cluster)
        if selected and selected.get("points"):
            inside = np.zeros_like(mask)
            inside[
                self.selected_rows(
                    src, selected, filters, clustering=clustering, cluster=cluster,
                    context=context,
                )
            ] = True  # fmt: skip
            mask &= inside
        elif person is not None:
            mask &= self.sources[src].meta["identity"].to_numpy() == int(person)
        return np.flatnonzero(mask)

    def selection_frame(
        self,
        src: int,
        rows: np.ndarray | None = None,
        *,
        clustering: Mapping[str, Any] | None = None,
        filters: Sequence[Filter] = (),
        person: int | None = None,
        cluster: int | None = None,
    ) -> pd.DataFrame:
        """The selection as a table: image id, identity, partition, cluster, map x and y and
        the 40 attributes (:data:`selection.COLUMNS`), indexed by dataset row.

        ``rows`` (dataset rows, e.g. a lasso's) or else the rows passing ``filters``, of
        ``person``, in ``cluster``; cluster and map position are those of ``clustering``
        (default: the first view), missing for a source without embeddings."""
        clustering = clustering or DEFAULT_CLUSTERING
        if rows is None:
            rows = self.selection_rows(src, clustering, filters, person, cluster)
        pipeline = self.pipelines[src]
        labels = pipeline.labels(**clustering) if pipeline else None
        xy = pipeline.map(clustering["reducer"]) if pipeline else None
        return selection.selection_frame(self.sources[src].meta, rows, labels, xy)

    def table_page(
        self,
        src: int,
        rows: np.ndarray,
        clustering: Mapping[str, Any],
        page: int,
        size: int,
        sort_by: Sequence[Mapping[str, Any]] | None,
    ) -> tuple[list[dict[str, Any]], int]:
        """(the records of one page of the selection's table, number of pages):
        :func:`selection.table_page`."""
        pipeline = self.pipelines[src]
        labels = pipeline.labels(**clustering) if pipeline else None
        xy = pipeline.map(clustering["reducer"]) if pipeline else None
        meta = self.sources[src].meta
        return selection.table_page(meta, rows, labels, xy, page, size, sort_by)

    def describe(self, src: int, rows: np.ndarray) -> Description:
        """What stands out in ``rows`` against the whole set (lift, purity, people)."""
        meta = self.sources[src].meta
        if src not in self._base_rates:  # a pass over every row: once per source
            self._base_rates[src] = rates(attribute_values(meta))
        return describe_rows(meta, rows, self._base_rates[src])

    def clusters(
        self, src: int, clustering: Mapping[str, Any]
    ) -> tuple[dict[int, Description], dict[int, np.ndarray]]:
        """(each cluster's description, a seeded sample of ``CLUSTER_SAMPLE`` of its rows),
        computed once per clustering."""
        key = repr((src, self._label_key(src, clustering)))
        if key in self._described:
            self._described.move_to_end(key)
        else:
            labels = np.asarray(self.pipelines[src].labels(**clustering))
            described = describe_clusters(self.sources[src].meta, labels)
            rng = np.random.default_rng(0)
            order = np.argsort(labels, kind="stable")
            starts = np.searchsorted(labels[order], sorted(described))
            samples = {}
            for label, start in zip(sorted(described), starts, strict=True):
                members = order[start : start + described[label].size]
                take = min(CLUSTER_SAMPLE, members.size)
                samples[label] = np.sort(rng.choice(members, size=take, replace=False))
            self._described[key] = (described, samples)
            while len(self._described) > KEPT_VIEWS:
                self._described.popitem(last=False)
        return self._described[key]

    def profile_figure(self, src: int, rows: np.ndarray) -> go.Figure:
        """Attribute profile of ``rows`` against the whole set."""
        meta = self.sources[src].meta
        whole = attribute_shares(meta, np.arange(len(meta)))
        return figures.profile_figure(
            attribute_shares(meta, rows),
            whole,
            f"selection of {len(rows):,} images vs all {len(meta):,}",
        )

    def similar(
        self, src: int, row: int, k: int = SIMILAR_K, filters: Sequence[Filter] = ()
    ) -> tuple[np.ndarray, np.ndarray]:
        """(rows, distances) of the ``k`` faces most similar to ``row`` among those passing
        ``filters`` (itself excluded)."""
        if self.pipelines[src] is None:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        query = np.asarray(self.pipelines[src].vectors[row : row + 1], dtype=np.float32)
        return self._nearest(src, query, k, filters, exclude=row)

    def similar_to_upload(
        self, src: int, image: Any, k: int = SIMILAR_K, filters: Sequence[Filter] = ()
    ) -> np.ndarray:
        """Rows of the ``k`` faces most like an uploaded image (embedded by the set's model)."""
        from celebalab.explorer._query import embed_upload

        if self.pipelines[src] is None:
            raise UploadError(self.sources[src].note or "this source has no embeddings")
        query = embed_upload(self.sources[src], image)[None]
        return self._nearest(src, query, k, filters)[0]

    def _nearest(
        self, src: int, query: np.ndarray, k: int, filters: Sequence[Filter],
        exclude: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """Nearest rows passing the filters: the index is searched ever deeper until ``k`` of
        its answers pass (exact, as the retrieval index is exact up to 500,000 faces)."""
        allowed = self.mask(src, filters)
        if exclude is not None:
            allowed[exclude] = False
        wanted = int(min(k, allowed.sum()))
        depth = k + 1
        while wanted:
            depth = min(depth, len(allowed))
            distances, indices = self.pipelines[src].index.search(query, depth)
            keep = allowed[indices[0]]
            if keep.sum() >= wanted or depth == len(allowed):
                return indices[0][keep][:wanted].astype(np.int64), distances[0][keep][:wanted]
            depth *= 8
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)

    # -- hierarchical view ---------------------------------------------------------------------
    def tree(self, src: int, reducer: str, order: str, filters: Sequence[Filter]) -> Tree | None:
        """Ward tree of the filtered rows in the clustering space (kept for the branch clicks)."""
        key = (src, reducer, order, filter_key(filters))
        if key not in self._trees:
            pipeline = self.pipelines[src]
            if pipeline is None:
                return None
            space = pipeline.cluster_space(reducer, order)
            self._trees = {key: build_tree(space, np.flatnonzero(self.mask(src, filters)))}
        return self._trees[key]

    def tree_figure(
        self, src: int, reducer: str, order: str, k: int, filters: Sequence[Filter]
    ) -> go.Figure:
        """The interactive dendrogram of the filtered subset."""
        if self.pipelines[src] is None:
            return figures.empty_figure(self.sources[src].note or "no embeddings")
        tree = self.tree(src, reducer, order, filters)
        if tree is None:
            return figures.empty_figure("fewer than two images pass the filters")
        subset = self.title(src, filters, None)
        sampled = (
            f" (tree of a random {tree.n:,})" if tree.n < self.mask(src, filters).sum() else ""
        )
        return dendrogram_figure(
            tree, k, TREE_LEAVES, f"hierarchical (Ward) · {subset}{sampled} · click a branch"
        )

    def tree_rows(
        self,
        src: int,
        reducer: str,
        order: str,
        filters: Sequence[Filter],
        click: Mapping[str, Any] | None,
    ) -> np.ndarray:
        """Rows under the clicked dendrogram node."""
        tree = self.tree(src, reducer, order, filters)
        if tree is None or not click or not click.get("points"):
            return np.zeros(0, dtype=np.int64)
        node = click["points"][0].get("customdata")
        if node is None:
            return np.zeros(0, dtype=np.int64)
        return tree.members(int(node[0] if isinstance(node, list) else node))

    # -- images --------------------------------------------------------------------------------
    def image_info(self, src: int, row: int) -> dict[str, Any]:
        """What the image panel shows for ``row``: file, person, split and attributes present."""
        meta = self.sources[src].meta.iloc[row]
        present = [a.replace("_", " ") for a in ATTRIBUTE_NAMES if meta[a] == 1]
        return {
            "row": int(row),
            "image_id": str(meta["image_id"]),
            "identity": int(meta["identity"]),
            "partition": int(meta["partition"]),
            "attributes": present,
            "url": image_url(src, row),
            "has_image": self.images.file(src, row) is not None,
        }


def image_url(src: int, row: int, thumb: bool = False) -> str:
    """The only way the browser addresses an image: source number and row number."""
    return f"/explorer/{'thumb' if thumb else 'image'}/{int(src)}/{int(row)}"


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"
