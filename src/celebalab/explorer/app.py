"""The Dash app: layout plus thin callbacks over :class:`~celebalab.explorer.views.Explorer`.

Every callback unpacks its inputs, calls one plain method and wraps the result in components;
the map's points travel once per view as binary arrays (a store that ``assets/explorer.js``
turns into the figure), and a change of clustering parameters sends only the new colour codes
(a ``Patch`` of the store), not the 200k points again. Images are served by two Flask routes
that take integers only (source, row). Bootstrap's stylesheet is served from the installed
``bootstrap-flask`` package: the page needs nothing from the internet.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from typing import Any

import dash
import numpy as np
from dash import ALL, ClientsideFunction, Input, Output, Patch, State, ctx, dcc, html, no_update
from flask import Response, abort, request, send_file

from celebalab.explorer import _figures as figures
from celebalab.explorer import _firstpaint as firstpaint
from celebalab.explorer import _layout as layout
from celebalab.explorer import _selection as selection
from celebalab.explorer._filters import add_filter, filter_label, remove_filter
from celebalab.explorer._images import MAX_UPLOAD_BYTES, UploadError, decode_upload
from celebalab.explorer._requests import RequestValueError, body_limit, check_request
from celebalab.explorer.views import GALLERY_CAP, Explorer, image_url

#: Plain Bootstrap 5 (the bootswatch themes @import web fonts; this file imports nothing).
_BOOTSTRAP = "static/bootstrap5/css/bootstrap.min.css"
_CLUSTER_INPUTS = ("reducer", "order", "method", "k", "eps", "min-samples", "min-cluster-size")
_CALLBACK_PATH = "/_dash-update-component"
_KNOWN_PREFIXES = ("/_dash-", "/_reload-hash", "/_favicon", "/assets/", "/explorer/")
_RECOLOUR = frozenset({"order", "method", "k", "eps", "min-samples", "min-cluster-size"})
#: What only changes the colours of a map drawn with context (its points stay where they are).
_RECOLOUR_IN_CONTEXT = _RECOLOUR | {"filters", "cluster"}
#: Clusters listed in the legend and the cluster gallery (the largest).
SHOWN_CLUSTERS = 12


def clustering_args(values: list[Any]) -> dict[str, Any]:
    """The pipeline's clustering arguments from the menu values (in ``_CLUSTER_INPUTS`` order)."""
    reducer, order, method, k, eps, min_samples, min_cluster_size = values
    return {
        "reducer": reducer,
        "order": order,
        "method": method,
        "params": {
            "k": int(k or 8),
            "eps": float(eps or 0.5),
            "min_samples": int(min_samples or 10),
            "min_cluster_size": int(min_cluster_size or 20),
        },
    }


@dataclass(frozen=True)
class PageView:
    """What the page shows: source, filters, person, chosen cluster, context, clustering."""

    src: int
    filters: list
    person: int | None
    cluster: int | None
    context: bool
    clustering: dict[str, Any]

    @property
    def map_options(self) -> dict[str, Any]:
        """The keyword arguments of the Explorer's map methods."""
        return {"clustering": self.clustering, "cluster": self.cluster, "context": self.context}


def view_dependencies(kind: type, clustering: type | None = None) -> list:
    """Inputs or States (``kind``) of everything :func:`page_view` reads, in its order; the
    clustering menu as ``clustering`` when given (a view that follows the map's title instead of
    the menu waits for the new clustering rather than competing with it)."""
    return [
        kind("source", "value"),
        kind("filters", "data"),
        kind("person", "value"),
        kind("cluster", "data"),
        kind("context", "value"),
        *[(clustering or kind)(i, "value") for i in _CLUSTER_INPUTS],
    ]


def page_view(values: list[Any]) -> PageView:
    """The :class:`PageView` of the values of :func:`view_dependencies`."""
    src, filters, person, cluster, context, *clustering = values
    return PageView(src, filters or [], person, cluster, bool(context), clustering_args(clustering))


def gallery(
    src: int,
    rows: np.ndarray,
    name: str,
    explorer: Explorer,
    cap: int | None = GALLERY_CAP,
    inline: bool = False,
) -> list[html.Img]:
    """Thumbnails of ``rows`` (the first ``cap``, or all); clicking one enlarges it.

    ``inline``: the thumbnails come as ``data:`` URLs inside the answer (small galleries only)."""
    meta = explorer.sources[src].meta

    def thumb_src(r: int) -> str:
        found = explorer.images.thumbnail_data_url(src, r) if inline else None
        return found or image_url(src, r, thumb=True)

    return [
        html.Img(
            src=thumb_src(int(r)),
            className="thumb",
            id={"type": "thumb", "gallery": name, "row": int(r)},
            title=f"{meta['image_id'].iat[r]} · person {meta['identity'].iat[r]}",
        )
        for r in np.asarray(rows)[:cap]
    ]


def _shown(rows: np.ndarray, what: str) -> str:
    return (
        f"{len(rows):,} {what}"
        if len(rows) <= GALLERY_CAP
        else f"first {GALLERY_CAP} of {len(rows):,} {what}"
    )


def build_app(explorer: Explorer, compress: bool = False) -> dash.Dash:
    """The Dash application for ``explorer`` (serve it with :func:`serve`).

    ``compress`` gzips responses (flask-compress): worth it across a network, a loss on this
    machine, where gzipping the 4.7 MB map of 202,599 points costs more than sending it.
    """
    app = dash.Dash(
        __name__,
        title="celebalab explorer",
        update_title=None,
        compress=compress,
        assets_folder=str(files("celebalab.explorer") / "assets"),
        external_stylesheets=["/explorer/static/bootstrap.min.css"],
        suppress_callback_exceptions=False,
    )
    first = explorer.first_page()
    pies = firstpaint.svg_url(firstpaint.pies_svg(first[0]))
    # A function: each page load gets the map's density preview as soon as it is rendered.
    app.layout = lambda: layout.page(explorer.sources, first, explorer.first_preview(), pies)
    interpolate = app.interpolate_index

    def index_with_first_paint(**parts: str) -> str:
        # The pies and the map's density painted from the HTML, before Dash's renderer runs.
        skeleton = firstpaint.skeleton(pies, explorer.first_preview())
        entry = f'<div id="react-entry-point">{skeleton}</div>'
        return interpolate(**{**parts, "app_entry": entry})

    app.interpolate_index = index_with_first_paint
    _routes(app, explorer)
    _menu_callbacks(app, explorer)
    _view_callbacks(app, explorer)
    _selection_callbacks(app, explorer)
    _image_callbacks(app, explorer)
    return app


def _routes(app: dash.Dash, explorer: Explorer) -> None:
    server = app.server
    css = files("flask_bootstrap") / _BOOTSTRAP
    limit = body_limit(MAX_UPLOAD_BYTES, max(len(s) for s in explorer.sources))
    server.config["MAX_CONTENT_LENGTH"] = limit

    @server.errorhandler(RequestValueError)
    def wrong_value(err: RequestValueError) -> Response:
        return Response(f"{err}\n", status=400, mimetype="text/plain")

    @server.errorhandler(413)
    def too_large(_err: Exception) -> Response:
        return Response(
            f"the request is larger than {limit / 1e6:.1f} MB\n", status=413, mimetype="text/plain"
        )

    @server.route("/explorer/static/bootstrap.min.css")
    def bootstrap_css() -> Response:
        return Response(
            css.read_bytes(), mimetype="text/css", headers={"Cache-Control": "max-age=86400"}
        )

    @server.route("/explorer/image/<int:src>/<int:row>")
    def full_image(src: int, row: int) -> Response:
        path = explorer.images.file(src, row)
        if path is None:
            abort(404)
        return send_file(path, max_age=86400)

    @server.before_request
    def only_known_paths() -> None:
        # Dash answers every unknown path with the page; here they are 404s, like traversals.
        path = request.path
        if path != "/" and not path.startswith(_KNOWN_PREFIXES):
            abort(404)
        if path == _CALLBACK_PATH and request.method == "POST":
            check_request(request.get_json(silent=True), len(explorer.sources))

    @server.route("/explorer/<path:anything>")
    def not_an_image(anything: str) -> Response:
        abort(404)  # any other /explorer/ URL (traversal attempts included) is not found

    @server.route("/explorer/thumb/<int:src>/<int:row>")
    def thumbnail(src: int, row: int) -> Response:
        data = explorer.images.thumbnail(src, row)
        if data is None:
            abort(404)
        return Response(data, mimetype="image/jpeg", headers={"Cache-Control": "max-age=86400"})


def _menu_callbacks(app: dash.Dash, explorer: Explorer) -> None:
    @app.callback(
        Output("source-note", "children"),
        Output("embedding-controls", "style"),
        Output("upload", "disabled"),
        Input("source", "value"),
    )
    def choose_source(src: int):
        note = explorer.sources[src].note
        alert = None if note is None else html.Div(note, className="alert alert-info small p-2")
        disabled = explorer.pipelines[src] is None
        return alert, {"display": "none"} if disabled else {}, disabled

    # Apart, and not on page load: an output of the first callbacks that feeds the map, pies
    # and person views would hold those back until it has answered (one more round trip).
    @app.callback(Output("person", "value"), Input("source", "value"), prevent_initial_call=True)
    def reset_person(_src: int):
        return None

    @app.callback(
        Output("person", "options"),
        Input("person", "search_value"),
        Input("source", "value"),
        State("person", "value"),
    )
    def person_options(search: str | None, src: int, current: int | None):
        options = explorer.person_options(src, search)
        if current is not None and all(o["value"] != current for o in options):
            options.append({"label": str(current), "value": current})
        return options

    @app.callback(
        Output("metrics", "children"),
        Input("source", "value"),
        Input("map-title", "data"),
        [State(i, "value") for i in _CLUSTER_INPUTS],
    )
    def metrics(src: int, _title: str | None, *values: Any):
        # After the map (its title says a clustering was drawn): the silhouette's sample
        # (O(5,000²)) would otherwise compete with a new K-means for the 2 cores.
        clustering = clustering_args(list(values)) if explorer.pipelines[src] else None
        rows = explorer.metrics(src, clustering)
        explorer.first_view_answered()
        return html.Table([html.Tr([html.Td(k), html.Td(v, className="num")]) for k, v in rows])

    @app.callback(
        Output("filters", "data"),
        Input("pies", "clickData"),
        Input({"type": "chip", "attribute": ALL}, "n_clicks"),
        Input("clear-filters", "n_clicks"),
        Input("source", "value"),
        State("filters", "data"),
        prevent_initial_call=True,
    )
    def change_filters(pie_click, _chips, _clear, _src, filters):
        trigger = ctx.triggered_id
        if trigger in ("clear-filters", "source"):
            return []
        if trigger == "pies" and pie_click and pie_click.get("points"):
            attribute, value = pie_click["points"][0]["customdata"]
            return add_filter(filters, attribute, int(value))
        if isinstance(trigger, dict) and ctx.triggered[0]["value"]:
            return remove_filter(filters, trigger["attribute"])
        return no_update

    @app.callback(
        Output("chips", "children"),
        Input("filters", "data"),
        Input("cluster", "data"),
        prevent_initial_call=True,  # the page comes with the view's first state
    )
    def chips(filters, cluster):
        buttons = [
            html.Button(
                [filter_label(f), html.Span(" ×", className="ms-1")],
                id={"type": "chip", "attribute": f["attribute"]},
                className="btn btn-sm btn-primary rounded-pill py-0",
                title="remove this filter",
            )
            for f in filters
        ]
        if cluster is not None:
            buttons.append(
                html.Button(
                    [f"cluster {cluster}", html.Span(" ×", className="ms-1")],
                    id={"type": "cluster-chip", "label": int(cluster)},
                    className="btn btn-sm btn-dark rounded-pill py-0",
                    title="show every cluster again",
                )
            )
        return buttons or layout.no_filters()

    @app.callback(
        Output("cluster", "data"),
        Input({"type": "cluster-pick", "label": ALL}, "n_clicks"),
        Input({"type": "cluster-chip", "label": ALL}, "n_clicks"),
        Input("source", "value"),
        [Input(i, "value") for i in _CLUSTER_INPUTS],
        State("cluster", "data"),
        prevent_initial_call=True,
    )
    def choose_cluster(_picks, _chips, _src, *rest):
        current = rest[-1]
        trigger = ctx.triggered_id
        if isinstance(trigger, dict):
            if not ctx.triggered[0]["value"]:
                return no_update  # a legend drawn anew, not a click
            picked = int(trigger["label"])
            return None if trigger["type"] == "cluster-chip" or picked == current else picked
        return None if current is not None else no_update  # another clustering or source

    @app.callback(
        Output("pie-page", "data"),
        Input("pie-prev", "n_clicks"),
        Input("pie-next", "n_clicks"),
        Input("attributes", "value"),
        State("pie-page", "data"),
        prevent_initial_call=True,
    )
    def turn_page(_prev, _next, _attributes, current):
        step = {"pie-prev": -1, "pie-next": 1}.get(ctx.triggered_id)
        return 0 if step is None else current + step


def _view_callbacks(app: dash.Dash, explorer: Explorer) -> None:
    @app.callback(
        Output("pies", "figure"),
        Output("pie-page-label", "children"),
        Input("source", "value"),
        Input("attributes", "value"),
        Input("filters", "data"),
        Input("person", "value"),
        Input("pie-page", "data"),
        prevent_initial_call=True,  # the page comes with the first view's pies
    )
    def attributes_view(src, attributes, filters, person, page):
        return explorer.pie_figures(src, attributes or [], filters, person, page)

    @app.callback(
        Output("phi", "figure"),
        Input("source", "value"),
        Input("attributes", "value"),
        Input("filters", "data"),
        Input("person", "value"),
    )
    def correlation_view(src, attributes, filters, person):
        return explorer.phi_figure(src, attributes or [], filters, person)

    @app.callback(
        Output("map-data", "data"),
        Output("map-title", "data"),
        view_dependencies(Input),
        State("map-title", "data"),
    )
    def map_view(*values):
        *values, drawn = values
        view = page_view(values)
        src, filters, options = view.src, view.filters, view.map_options
        if explorer.pipelines[src] is None:
            return explorer.map_data(src, view.clustering, filters, view.person), None
        title = explorer.map_title(src, view.clustering, filters, cluster=view.cluster,
                                   context=view.context)  # fmt: skip
        changed = {t["prop_id"].split(".")[0] for t in ctx.triggered}
        recolour = _RECOLOUR_IN_CONTEXT if view.context else _RECOLOUR
        # Only the colours of a map already drawn (its title is there) of this source and mode.
        recoloured = drawn is not None and changed <= recolour
        if recoloured and not explorer.is_density_map(src, filters, context=view.context):
            patch = Patch()  # the points stay: only their colours change
            patch["codes"] = explorer.map_colours(src, view.clustering, filters, **{
                k: v for k, v in options.items() if k != "clustering"})  # fmt: skip
            patch["layout"]["title"]["text"] = title
            return patch, title
        return explorer.map_data(
            src, view.clustering, filters, view.person, cluster=view.cluster,
            context=view.context,
        ), title  # fmt: skip

    @app.callback(
        Output("map-data", "data", allow_duplicate=True),
        Input("map-zoom", "data"),
        view_dependencies(State),
        prevent_initial_call=True,
    )
    def density_zoom(zoom, *values):
        view = page_view(list(values))
        if not zoom or not explorer.is_density_map(view.src, view.filters, context=view.context):
            return no_update
        x_range, y_range = zoom["x"], zoom["y"]
        patch = Patch()
        patch["density"] = {
            "source": explorer.density_view(
                view.src, view.clustering, view.filters, tuple(sorted(x_range)),
                tuple(sorted(y_range)), cluster=view.cluster, context=view.context,
            ),
            "x": sorted(x_range),
            "y": sorted(y_range),
        }  # fmt: skip
        return patch

    # The figure of the map is built in the browser (assets/explorer.js) from the arrays above.
    app.clientside_callback(
        ClientsideFunction(namespace="explorer", function_name="mapFigure"),
        Output("map", "figure"),
        Input("map-data", "data"),
    )
    # The hovered point's thumbnail, in the browser: its row comes from the map's arrays.
    app.clientside_callback(
        ClientsideFunction(namespace="explorer", function_name="hoverThumb"),
        Output("hover-tip", "show"),
        Output("hover-tip", "bbox"),
        Output("hover-thumb", "src"),
        Output("hover-caption", "children"),
        Input("map", "hoverData"),
        State("source", "value"),
        prevent_initial_call=True,
    )

    @app.callback(
        Output("person-title", "children"),
        Output("person-gallery", "children"),
        Input("person", "value"),
        Input("source", "value"),
        Input("filters", "data"),
        prevent_initial_call=True,  # the page comes with the view's first state
    )
    def person_view(person, src, filters):
        if person is None:
            return layout.PERSON_HINT, []
        mask = explorer.mask(src, filters, person)
        rows = np.flatnonzero(mask)
        return (
            f"{explorer.title(src, filters, person)} · click one to enlarge",
            gallery(src, rows, "person", explorer, cap=None),
        )

    @app.callback(
        Output("tree", "figure"),
        Input("source", "value"),
        Input("reducer", "value"),
        Input("order", "value"),
        Input("method", "value"),
        Input("k", "value"),
        Input("filters", "data"),
        prevent_initial_call=True,  # the page comes with the view's first state
    )
    def tree_view(src, reducer, order, method, k, filters):
        if method != "hierarchical":  # drawn on demand, as in CelebA-Vis: it costs a Ward tree
            return figures.empty_figure(layout.TREE_HINT)
        return explorer.tree_figure(src, reducer, order, int(k or 8), filters)

    @app.callback(
        Output("branch-title", "children"),
        Output("branch-gallery", "children"),
        Input("tree", "clickData"),
        State("source", "value"),
        State("reducer", "value"),
        State("order", "value"),
        State("filters", "data"),
        prevent_initial_call=True,  # the page comes with the view's first state
    )
    def branch_view(click, src, reducer, order, filters):
        rows = explorer.tree_rows(src, reducer, order, filters, click)
        if rows.size == 0:
            return layout.BRANCH_HINT, []
        return _shown(rows, "images in this branch"), gallery(src, rows, "branch", explorer)


def selection_words(explorer: Explorer, view: PageView, lasso: bool, count: int) -> str:
    """What the current selection is, in words: ``1,234 of 202,599 images: lasso/box · Male =
    yes · cluster 3`` (the person counts when there is no lasso, see ``selection_rows``)."""
    parts = (
        (["lasso/box"] if lasso else [])
        + [filter_label(f) for f in view.filters]
        + ([f"cluster {view.cluster}"] if view.cluster is not None else [])
        + ([f"person {view.person}"] if view.person is not None and not lasso else [])
    )
    total = len(explorer.sources[view.src])
    return f"{count:,} of {total:,} images" + (": " + " · ".join(parts) if parts else "")


def _has_lasso(selected: dict | None) -> bool:
    return bool(selected and selected.get("points"))


def _selection(explorer: Explorer, view: PageView, selected: dict | None) -> np.ndarray:
    return explorer.selection_rows(
        view.src, view.clustering if explorer.pipelines[view.src] else None, view.filters,
        view.person, view.cluster, selected, view.context,
    )  # fmt: skip


def _selection_callbacks(app: dash.Dash, explorer: Explorer) -> None:
    @app.callback(
        Output("selection-title", "children"),
        Output("selection-description", "children"),
        Output("selection-gallery", "children"),
        Output("profile", "figure"),
        Input("map", "selectedData"),
        Input("map-title", "data"),
        view_dependencies(Input, State),
        prevent_initial_call=True,  # the page comes with the view's first state
    )
    def selection_view(selected, _title, *values):
        view = page_view(list(values))
        chosen = view.filters or view.person is not None or view.cluster is not None
        if not chosen and not _has_lasso(selected):
            return layout.SELECTION_HINT, None, [], figures.empty_figure(layout.PROFILE_HINT)
        rows = _selection(explorer, view, selected)
        if rows.size == 0:
            return "no image in this selection", None, [], figures.empty_figure("no image")
        described = explorer.describe(view.src, rows)
        words = selection_words(explorer, view, _has_lasso(selected), rows.size)
        shown = "" if rows.size <= GALLERY_CAP else f" (first {GALLERY_CAP} shown)"
        return (
            f"{words}{shown}",
            _description(described),
            gallery(view.src, rows, "selection", explorer),
            explorer.profile_figure(view.src, rows),
        )

    @app.callback(
        Output("table", "data"),
        Output("table", "page_count"),
        Output("table", "page_current"),
        Output("table-title", "children"),
        Input("table", "page_current"),
        Input("table", "page_size"),
        Input("table", "sort_by"),
        Input("map", "selectedData"),
        Input("map-title", "data"),
        view_dependencies(Input, State),
    )
    def table_view(page, size, sort_by, selected, _title, *values):
        view = page_view(list(values))
        if ctx.triggered_id != "table":
            page = 0  # a new selection starts on its first page
        rows = _selection(explorer, view, selected)
        records, pages = explorer.table_page(view.src, rows, view.clustering, page or 0,
                                             size or selection.PAGE_SIZE, sort_by)  # fmt: skip
        words = selection_words(explorer, view, _has_lasso(selected), rows.size)
        return records, pages, min(page or 0, pages - 1), f"{words} · sort by any column"

    @app.callback(
        Output("download", "data"),
        Input("export-csv", "n_clicks"),
        Input("export-parquet", "n_clicks"),
        State("map", "selectedData"),
        view_dependencies(State),
        prevent_initial_call=True,
    )
    def export(_csv, _parquet, selected, *values):
        view = page_view(list(values))
        kind = "csv" if ctx.triggered_id == "export-csv" else "parquet"
        rows = _selection(explorer, view, selected)
        frame = explorer.selection_frame(view.src, rows, clustering=view.clustering)
        name = f"{explorer.sources[view.src].name}-selection-{rows.size}.{kind}"
        return dcc.send_bytes(selection.export_bytes(frame, kind), name)

    @app.callback(
        Output("map-legend", "children"),
        Output("cluster-title", "children"),
        Output("cluster-gallery", "children"),
        Input("map-title", "data"),
        State("source", "value"),
        [State(i, "value") for i in _CLUSTER_INPUTS],
        prevent_initial_call=True,
    )
    def cluster_views(title, src, *values):
        if title is None or explorer.pipelines[src] is None:
            return None, layout.CLUSTERS_HINT, []
        described, samples = explorer.clusters(src, clustering_args(list(values)))
        largest = sorted(described, key=lambda c: (-described[c].size, c))
        legend = [_legend_entry(c, described[c], len(explorer.sources[src])) for c in largest]
        shown = largest[:SHOWN_CLUSTERS]
        more = "" if len(largest) <= SHOWN_CLUSTERS else f" ({SHOWN_CLUSTERS} largest shown)"
        title = f"{len(largest)} clusters{more}: a random sample of each one's faces"
        return (
            legend,
            title,
            [_cluster_faces(src, c, described[c], samples[c], explorer) for c in shown],
        )


def _description(described) -> list:
    identity = described.identity_text()
    return [
        html.Div(described.attributes_text(), className="fw-semibold"),
        html.Div(identity, className="text-muted") if identity else None,
    ]


def _swatch(label: int) -> html.Span:
    return html.Span(className="swatch", style={"background": figures.cluster_colour(label)})


def _legend_entry(label: int, described, total: int) -> html.Button:
    """One line of the map's legend: colour, cluster, share, what stands out (click: choose)."""
    name = "noise" if label < 0 else f"cluster {label}"
    identity = described.identity_text()
    return html.Button(
        [
            _swatch(label),
            html.B(f"{name} "),
            html.Span(f"{100 * described.size / total:.1f} % · ", className="text-muted"),
            described.attributes_text(),
            html.Span(f" · {identity}", className="text-muted") if identity else None,
        ],
        id={"type": "cluster-pick", "label": int(label)},
        className="legend-entry",
        title="show this cluster only (the rest greyed or hidden); click again for all",
    )


def _cluster_faces(src, label, described, rows, explorer) -> html.Div:
    name = "noise" if label < 0 else f"cluster {label}"
    return html.Div(
        [
            html.Div(
                [
                    _swatch(label),
                    html.B(f"{name} · {described.size:,} faces · "),
                    described.attributes_text(),
                ],
                className="small",
            ),
            html.Div(
                gallery(src, rows, f"cluster-{label}", explorer), className="d-flex flex-wrap gap-1"
            ),
        ],
        className="cluster-row w-100 mb-2",
    )


def _image_callbacks(app: dash.Dash, explorer: Explorer) -> None:
    # Two callbacks on one click, answered in parallel: the image panel is cheap (a row lookup
    # and a URL) and shows at once; the similar faces (an index search) follow in their own.
    def clicked_row(click, density_click, src, *rest) -> int | None:
        """The dataset row of a click on the map's points, or on its density image."""
        view = page_view([src, *rest])
        if ctx.triggered_id == "map":
            return explorer.point_row(src, click, view.filters, view.person, **view.map_options)
        if ctx.triggered_id == "map-click":
            return explorer.nearest_row(
                src, view.clustering, view.filters, density_click, cluster=view.cluster,
                context=view.context,
            )  # fmt: skip
        return None

    click_inputs = [Input("map", "clickData"), Input("map-click", "data"),
                    Input("source", "value"), *view_dependencies(State)[1:]]  # fmt: skip

    @app.callback(
        Output("image-panel", "children"),
        *click_inputs,
        prevent_initial_call=True,  # the page comes with the view's first state
    )
    def clicked(*values):
        row = clicked_row(*values)
        if row is None:
            return layout.image_hint()
        src = values[2]
        info = explorer.image_info(src, row)
        picture = (
            html.Img(
                src=explorer.images.data_url(src, row) or info["url"],
                id="clicked-image",
                alt=info["image_id"],
            )
            if info["has_image"]
            else html.Div("image file not available", className="text-muted")
        )
        caption = html.Div(
            [
                html.Div(
                    f"{info['image_id']} · person {info['identity']}",
                    className="fw-semibold",
                    id="clicked-caption",
                ),
                html.Div(
                    ", ".join(info["attributes"]) or "no attribute set", className="text-muted"
                ),
            ],
            className="mt-1",
        )
        return [picture, caption]

    @app.callback(
        Output("similar-gallery", "children"),
        Output("upload-status", "children"),
        Input("upload", "contents"),
        *click_inputs,
        prevent_initial_call=True,  # the page comes with the view's first state
    )
    def similar_faces(upload, *values):
        src, filters = values[2], values[3]
        if ctx.triggered_id == "upload" and upload:
            try:
                rows = explorer.similar_to_upload(src, decode_upload(upload), filters=filters)
            except UploadError as err:
                return [], str(err)
            return gallery(src, rows, "similar", explorer, inline=True), ""
        row = clicked_row(*values)
        if row is None:
            return [], ""
        similar_rows, _ = explorer.similar(src, row, filters=filters)
        return gallery(src, similar_rows, "similar", explorer, inline=True), ""

    # In the browser (assets/explorer.js): the thumbnail's id gives its row, its title the
    # caption; a callback on the server would also run every time a gallery fills.
    app.clientside_callback(
        ClientsideFunction(namespace="explorer", function_name="enlarge"),
        Output("enlarge", "is_open"),
        Output("enlarged", "src"),
        Output("enlarged-title", "children"),
        Input({"type": "thumb", "gallery": ALL, "row": ALL}, "n_clicks"),
        State({"type": "thumb", "gallery": ALL, "row": ALL}, "title"),
        State("source", "value"),
        prevent_initial_call=True,
    )
