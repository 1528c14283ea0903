"""The page: a main menu (left, or on top on narrow screens) and the views (right).

Bootstrap's grid makes it adaptive: at ≥ 1200 px the menu takes a quarter of the width and the
views sit two per row; at 768–1199 px the menu takes a third and the views stack; below 768 px
(phones) everything stacks in one column. Component ids are the contract with the callbacks and
the browser tests.
"""

from __future__ import annotations

from collections.abc import Sequence

import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import dash_table, dcc, html

from celebalab.datasets.schema import ATTRIBUTE_NAMES
from celebalab.explorer._clustering import CLUSTERERS
from celebalab.explorer._figures import empty_figure
from celebalab.explorer._requests import MAX_K
from celebalab.explorer._selection import COLUMNS, PAGE_SIZE
from celebalab.explorer.sources import ExplorerSource
from celebalab.explorer.views import DEFAULT_ATTRIBUTES, DEFAULT_CLUSTERING

REDUCER_LABELS = {"pca": "PCA", "umap": "UMAP", "tsne": "t-SNE"}
METHOD_LABELS = {"kmeans": "K-means", "dbscan": "DBSCAN", "hdbscan": "HDBSCAN",
                 "hierarchical": "Hierarchical (Ward)"}  # fmt: skip
ORDER_LABELS = {"reduce_first": "reduce → cluster", "cluster_first": "cluster → reduce"}
#: What the views say before anything is chosen: the page comes with them, and the callbacks
#: that fill these views do not run on page load (fewer round trips before the first paint).
NO_FILTERS = "none"
IMAGE_HINT = "click a point on the map to see its image"
SELECTION_HINT = "lasso or box-select points on the map to see them here"
PROFILE_HINT = "the attribute profile of a selection shows here"
PERSON_HINT = "choose a person id to see all their images"
TREE_HINT = "choose Hierarchical (Ward) as the clustering method to draw the tree"
BRANCH_HINT = "click a branch or a leaf of the tree to see its images"
CLUSTERS_HINT = "the clusters of the map, described, with a sample of their faces"
CONTEXT_LABEL = "keep the rest of the map, greyed"
_GRAPH_CONFIG = {"displaylogo": False, "scrollZoom": True, "responsive": True}
#: plotly.js draws WebGL at twice the screen's pixels by default; at the screen's own density
#: the software WebGL of a machine without a GPU draws 202,599 points in about half the time.
#: Two clicks within ``doubleClickDelay`` are a double click, which in lasso mode clears the
#: selection and restyles every point (0.5-0.9 s for 202,599 points). plotly.js 4's 500 ms
#: made two quick clicks on different points one double click; 300 ms still catches a real one.
_MAP_CONFIG = {**_GRAPH_CONFIG, "plotGlPixelRatio": 1, "doubleClickDelay": 300}


def _field(label: str, control, hint: str | None = None) -> html.Div:
    children = [dbc.Label(label, className="fw-semibold small mb-1"), control]
    if hint:
        children.append(html.Div(hint, className="form-text small"))
    return html.Div(children, className="mb-3")


def _card(title: str, body: list, card_id: str | None = None) -> dbc.Card:
    header = dbc.CardHeader(title, className="fw-semibold py-2")
    return dbc.Card(
        [header, dbc.CardBody(body, className="p-2")],
        className="mb-3 shadow-sm",
        id=card_id or f"card-{title.lower().replace(' ', '-')}",
    )


def _number(input_id: str, label: str, value: float, minimum: float, **bounds) -> dbc.Col:
    """A half-width numeric field, applied on Enter or when it loses focus (debounced)."""
    control = dbc.Input(id=input_id, value=value, min=minimum, type="number", size="sm",
                        debounce=True, **bounds)  # fmt: skip
    return dbc.Col(_field(label, control), width=6)


def menu(sources: Sequence[ExplorerSource]) -> html.Div:
    """The main menu: dataset, metrics, attributes, filters, person, reduction and clustering."""
    start, params = DEFAULT_CLUSTERING, DEFAULT_CLUSTERING["params"]
    return html.Div(
        [
            _field(
                "Dataset",
                dcc.Dropdown(
                    id="source",
                    clearable=False,
                    value=0,
                    options=[{"label": s.name, "value": i} for i, s in enumerate(sources)],
                ),
            ),
            html.Div(id="source-note"),
            _card("Metrics", [html.Div(id="metrics")]),
            _field(
                "Physical attributes",
                dcc.Dropdown(
                    id="attributes",
                    multi=True,
                    value=list(DEFAULT_ATTRIBUTES),
                    options=[{"label": a.replace("_", " "), "value": a} for a in ATTRIBUTE_NAMES],
                ),
            ),
            _field(
                "Filters",
                html.Div(
                    [
                        html.Div(no_filters(), id="chips", className="d-flex flex-wrap gap-1"),
                        dbc.Button(
                            "clear filters",
                            id="clear-filters",
                            size="sm",
                            color="link",
                            className="p-0 mt-1",
                        ),
                    ]
                ),
                "click a pie slice to filter on it; every view respects the filters",
            ),
            _field(
                "Person ID",
                dcc.Dropdown(
                    id="person", placeholder="type an id…", searchable=True, clearable=True
                ),
            ),
            html.Div(
                [
                    html.Hr(),
                    _field(
                        "Dimensionality reduction",
                        dbc.RadioItems(
                            id="reducer",
                            value=start["reducer"],
                            inline=True,
                            options=[{"label": v, "value": k} for k, v in REDUCER_LABELS.items()],
                        ),
                    ),
                    _field(
                        "Clustering method",
                        dcc.Dropdown(
                            id="method",
                            value=start["method"],
                            clearable=False,
                            options=[{"label": METHOD_LABELS[m], "value": m} for m in CLUSTERERS],
                        ),
                    ),
                    _field(
                        "Order",
                        dbc.RadioItems(
                            id="order",
                            value=start["order"],
                            inline=True,
                            options=[{"label": v, "value": k} for k, v in ORDER_LABELS.items()],
                        ),
                    ),
                    dbc.Row(
                        [
                            _number("k", "k", params["k"], 1, step=1, max=MAX_K),
                            _number(
                                "min-cluster-size",
                                "min cluster size",
                                params["min_cluster_size"],
                                2,
                                step=1,
                            ),
                            _number("eps", "eps", params["eps"], 0.001, step="any"),
                            _number("min-samples", "min samples", params["min_samples"], 1, step=1),
                        ],
                        className="g-2",
                    ),
                ],
                id="embedding-controls",
            ),
        ],
        id="menu",
    )


def _graph(
    graph_id: str, height: int, config: dict = _GRAPH_CONFIG, figure: go.Figure | None = None
) -> dcc.Loading:
    extra = {} if figure is None else {"figure": figure}
    return dcc.Loading(
        dcc.Graph(id=graph_id, config=config, style={"minHeight": height}, **extra),
        type="dot",
        delay_show=400,
    )


def _gallery(gallery_id: str) -> html.Div:
    return html.Div(id=gallery_id, className="gallery d-flex flex-wrap gap-1")


def _gallery_card(title: str, name: str, hint: str, *extra) -> dbc.Card:
    """A card with a line saying what is shown (``NAME-title``, first ``hint``) and a gallery
    (``NAME-gallery``)."""
    return _card(title, [html.Div(hint, id=f"{name}-title", className="small mb-1"),
                         _gallery(f"{name}-gallery"), *extra])  # fmt: skip


def no_filters() -> html.Span:
    """The filter chips' place when there are none."""
    return html.Span(NO_FILTERS, className="small text-muted")


def image_hint() -> html.Span:
    """The image panel before a point is clicked."""
    return html.Span(IMAGE_HINT, className="text-muted")


def map_card(preview: str | None) -> dbc.Card:
    """The map: the WebGL points (or the density image above the point budget) over the
    ``preview`` density image painted with the page, the hover thumbnail, the context toggle
    and the cluster legend."""
    return _card(
        "Map",
        [
            html.Div(
                [
                    _graph("map", 560, _MAP_CONFIG),
                    html.Img(
                        id="map-preview",
                        src=preview or "",
                        alt="density of the map's points",
                        style={} if preview else {"display": "none"},
                    ),
                    dcc.Tooltip(
                        [html.Img(id="hover-thumb"), html.Div(id="hover-caption")],
                        id="hover-tip",
                        direction="right",
                    ),
                ],
                className="map-box",
            ),
            dbc.Switch(id="context", label=CONTEXT_LABEL, value=True, className="small mt-1"),
            html.Div(id="map-legend", className="legend small"),
        ],
    )


def selection_card() -> dbc.Card:
    """The current selection: what it is, what stands out in it, exports, faces, profile."""
    return _card(
        "Selection",
        [
            html.Div(SELECTION_HINT, id="selection-title", className="small mb-1"),
            html.Div(id="selection-description", className="small mb-1"),
            html.Div(
                [
                    dbc.Button(
                        "CSV",
                        id="export-csv",
                        size="sm",
                        color="secondary",
                        outline=True,
                        className="me-1",
                    ),
                    dbc.Button(
                        "Parquet", id="export-parquet", size="sm", color="secondary", outline=True
                    ),
                    html.Span(
                        " download the selection (or every image)", className="small text-muted"
                    ),
                    dcc.Download(id="download"),
                ],
                className="mb-1",
            ),
            _gallery("selection-gallery"),
            dcc.Graph(id="profile", config=_GRAPH_CONFIG, figure=empty_figure(PROFILE_HINT)),
        ],
    )


def table_card() -> dbc.Card:
    """The selection as a table, a page at a time, sorted on the server by any column."""
    return _card(
        "Table",
        [
            html.Div(id="table-title", className="small mb-1"),
            dash_table.DataTable(
                id="table",
                columns=[{"name": c.replace("_", " "), "id": c} for c in COLUMNS],
                page_action="custom",
                page_current=0,
                page_size=PAGE_SIZE,
                sort_action="custom",
                sort_mode="multi",
                sort_by=[],
                style_table={"overflowX": "auto"},
                style_cell={
                    "fontSize": "0.78rem",
                    "padding": "2px 6px",
                    "fontFamily": "system-ui, sans-serif",
                },
                style_header={"fontWeight": "600"},
            ),
        ],
    )


def views(
    first: tuple[go.Figure, str], preview: str | None = None, pies_image: str | None = None
) -> html.Div:
    """The plots: attributes (``first``: the pies and their page label as the page opens,
    ``pies_image`` the same pies drawn without plotly.js until it has drawn them), image, map
    (``preview``: its density image painted with the page), selection, table, clusters, person,
    hierarchy."""
    pie_figure, page_label = first
    pies = _card(
        "Attributes",
        [
            html.Div(
                [
                    dbc.Button(
                        "‹ previous", id="pie-prev", size="sm", color="secondary", outline=True
                    ),
                    html.Span(page_label, id="pie-page-label", className="mx-2 small text-muted"),
                    dbc.Button("next ›", id="pie-next", size="sm", color="secondary", outline=True),
                ],
                className="d-flex align-items-center mb-1",
            ),
            html.Div(
                [
                    _graph("pies", 300, figure=pie_figure),
                    html.Img(src=pies_image, className="pies-placeholder", alt="attribute pies")
                    if pies_image
                    else None,
                ],
                className="pies-box",
            ),
        ],
    )
    image = _card(
        "Image",
        [
            html.Div(image_hint(), id="image-panel", className="text-center small"),
            html.H6("Similar faces", className="mt-2 mb-1 small fw-semibold"),
            dcc.Upload(
                id="upload",
                children=html.Div("drop or choose a face image to search with"),
                className="upload small text-muted mb-1",
                max_size=5 << 20,
            ),
            html.Div(id="upload-status", className="small text-danger"),
            _gallery("similar-gallery"),
        ],
    )
    return html.Div(
        [
            dbc.Row([dbc.Col(pies, xl=8, xs=12), dbc.Col(image, xl=4, xs=12)], className="g-3"),
            dbc.Row(
                [dbc.Col(_card("Correlation", [_graph("phi", 200)]), xs=12)],
                className="g-3",
            ),
            dbc.Row(
                [
                    dbc.Col(map_card(preview), xl=8, xs=12),
                    dbc.Col(selection_card(), xl=4, xs=12),
                ],
                className="g-3",
            ),
            dbc.Row([dbc.Col(table_card(), xs=12)], className="g-3"),
            dbc.Row(
                [
                    dbc.Col(_gallery_card("Clusters", "cluster", CLUSTERS_HINT), xs=12),
                ],
                className="g-3",
            ),
            dbc.Row(
                [
                    dbc.Col(_gallery_card("Person", "person", PERSON_HINT), xs=12),
                ],
                className="g-3",
            ),
            dbc.Row(
                [
                    dbc.Col(
                        _card("Hierarchy", [_graph("tree", 200, figure=empty_figure(TREE_HINT))]),
                        xl=8,
                        xs=12,
                    ),
                    dbc.Col(
                        _gallery_card("Branch", "branch", BRANCH_HINT),
                        xl=4,
                        xs=12,
                    ),
                ],
                className="g-3",
            ),
        ],
        id="views",
    )


def page(
    sources: Sequence[ExplorerSource],
    first: tuple[go.Figure, str],
    preview: str | None = None,
    pies_image: str | None = None,
) -> dbc.Container:
    """The whole page with its stores (filters, pie page, chosen cluster, map data, density
    clicks and zooms) and the enlarge dialog; ``first`` is what the pies show as it opens
    (drawn without a round trip), ``preview`` the map's density image and ``pies_image`` the
    pies as an image (``data:`` URLs), shown until plotly.js has drawn its own."""
    return dbc.Container(
        [
            dcc.Store(id="filters", data=[]),
            dcc.Store(id="pie-page", data=0),
            dcc.Store(id="cluster", data=None),
            dcc.Store(id="map-data"),
            dcc.Store(id="map-title"),
            dcc.Store(id="map-click", data=None),
            dcc.Store(id="map-zoom", data=None),
            html.H4("celebalab explorer", className="my-2"),
            dbc.Row(
                [
                    dbc.Col(menu(sources), lg=3, md=4, xs=12, className="menu-col"),
                    dbc.Col(views(first, preview, pies_image), lg=9, md=8, xs=12),
                ],
                className="g-3",
            ),
            dbc.Modal(
                [
                    dbc.ModalHeader(dbc.ModalTitle(id="enlarged-title")),
                    dbc.ModalBody(html.Img(id="enlarged", className="img-fluid mx-auto d-block")),
                ],
                id="enlarge",
                size="lg",
                is_open=False,
            ),
        ],
        fluid=True,
        className="pb-4",
    )
