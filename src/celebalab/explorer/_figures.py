"""Plotly figures of the explorer: pies, phi matrix, the WebGL map, profile bars, dendrogram.

Every figure uses one palette and one small template so colours match across views (cluster
*i* has the same colour in the map and in the dendrogram). Large arrays go to the browser as
binary typed arrays (Plotly's ``{dtype, bdata}`` encoding), never as JSON number lists.
"""

from __future__ import annotations

import base64
import textwrap
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

#: Cluster colours (Tableau 10); noise points (-1) are light grey.
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
           "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac")  # fmt: skip
NOISE = "#d3d6db"
#: Points kept as context (outside the filters or the chosen cluster): greyed, drawn beneath.
CONTEXT = "#e4e6ea"
#: The map's colours by code: noise, the clusters' palette, context.
MAP_PALETTE = (NOISE, *PALETTE, CONTEXT)
CONTEXT_CODE = len(MAP_PALETTE) - 1
PIE_COLOURS = ("#c9ced6", "#2c7be5")  # 0 = absent, 1 = present
ACCENT = "#2c7be5"
_MARGIN = {"l": 10, "r": 10, "t": 40, "b": 10}
LAYOUT = go.Layout(
    template="none",
    font={"family": "system-ui, sans-serif", "size": 12},
    paper_bgcolor="white",
    plot_bgcolor="white",
    margin=_MARGIN,
)


def typed_array(values: np.ndarray) -> dict[str, str]:
    """``values`` as Plotly's binary typed-array spec (what plotly.js decodes without parsing)."""
    array = np.ascontiguousarray(values)
    spec = {"dtype": array.dtype.str.lstrip("<|="), "bdata": base64.b64encode(array).decode()}
    if array.ndim > 1:
        spec["shape"] = ", ".join(str(s) for s in array.shape)
    return spec


def from_typed_array(spec: dict[str, str]) -> np.ndarray:
    """The array of a :func:`typed_array` spec (tests, benchmarks)."""
    values = np.frombuffer(base64.b64decode(spec["bdata"]), dtype=np.dtype(spec["dtype"]))
    shape = spec.get("shape")
    return values.reshape([int(s) for s in shape.split(",")]) if shape else values


def colour_codes(labels: np.ndarray) -> np.ndarray:
    """Palette index + 1 per point (0 = noise), uint8: what the map's colour scale reads."""
    labels = np.asarray(labels)
    return np.where(labels < 0, 0, labels % len(PALETTE) + 1).astype(np.uint8)


def map_codes(labels: np.ndarray, active: np.ndarray) -> np.ndarray:
    """The map's colour codes (indices into ``MAP_PALETTE``): the cluster's colour for active
    points, ``CONTEXT_CODE`` for the others."""
    return np.where(active, colour_codes(labels), CONTEXT_CODE).astype(np.uint8)


def cluster_colour(label: int) -> str:
    """The colour of cluster ``label`` (-1 noise) in every view."""
    return NOISE if label < 0 else PALETTE[label % len(PALETTE)]


def empty_figure(message: str) -> go.Figure:
    """A blank figure that says why it is blank."""
    fig = go.Figure(layout=LAYOUT)
    fig.add_annotation(
        text="<br>".join(textwrap.wrap(message, 44)),  # annotations do not wrap on phones
        showarrow=False,
        x=0.5,
        y=0.5,
        xref="paper",
        yref="paper",
        font={"size": 14, "color": "#6c757d"},
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(height=200)
    return fig


def pie_figure(counts: pd.DataFrame, subset_title: str, columns: int) -> go.Figure:
    """One pie per row of ``counts`` (index attribute; columns ``0``, ``1``), in a grid.

    Each slice's ``customdata`` is ``[attribute, value]``, so a click says what to filter on.
    Pies are placed by their own domains (``make_subplots`` costs more than the pies).
    """
    names = list(counts.index)
    if not names:
        return empty_figure("choose attributes to see their pies")
    cols = max(1, min(columns, len(names)))
    rows = -(-len(names) // cols)
    traces = []
    for i, name in enumerate(names):
        row, col = divmod(i, cols)
        traces.append(go.Pie(
            labels=["no", "yes"], values=[int(counts.at[name, 0]), int(counts.at[name, 1])],
            sort=False, direction="clockwise", name=name, marker={"colors": list(PIE_COLOURS)},
            customdata=[[name, 0], [name, 1]], textinfo="percent", textposition="inside",
            title={"text": name.replace("_", " "), "position": "top center"},
            domain={"x": [col / cols + 0.02, (col + 1) / cols - 0.02],
                    "y": [1 - (row + 1) / rows + 0.03, 1 - row / rows - 0.08]},
            hovertemplate=f"{name} = %{{label}}: %{{value}} images<br>click to filter"
            "<extra></extra>",
        ))  # fmt: skip
    fig = go.Figure(traces, layout=LAYOUT)
    fig.update_layout(
        title={"text": subset_title, "x": 0.01, "font": {"size": 14}},
        showlegend=False,
        height=max(260, 230 * rows),
        margin={**_MARGIN, "t": 60},
    )
    return fig


def phi_figure(phi: pd.DataFrame, subset_title: str) -> go.Figure:
    """Heatmap of the phi correlation of the chosen attributes (NaN where undefined)."""
    if phi.shape[0] < 2:
        return empty_figure("choose two or more attributes for their correlation")
    labels = [n.replace("_", " ") for n in phi.index]
    values = phi.to_numpy(dtype=float)
    if np.isnan(values).all():
        return empty_figure(
            f"phi is undefined: every chosen attribute is constant in {subset_title}"
        )
    text = np.where(np.isnan(values), "n/a", np.round(values, 2).astype(str))
    fig = go.Figure(
        go.Heatmap(
            z=values,
            x=labels,
            y=labels,
            zmin=-1,
            zmax=1,
            colorscale="RdBu",
            reversescale=True,
            text=text,
            texttemplate="%{text}",
            hovertemplate="phi(%{y}, %{x}) = %{text}<extra></extra>",
            colorbar={"thickness": 10, "len": 0.8},
        ),
        layout=LAYOUT,
    )
    fig.update_layout(
        title={"text": f"phi correlation · {subset_title}", "x": 0.01, "font": {"size": 14}},
        height=max(280, 60 + 34 * len(labels)),
        margin={**_MARGIN, "l": 110},
    )
    fig.update_yaxes(autorange="reversed")
    return fig


def map_layout(title: str, dragmode: str = "lasso") -> go.Layout:
    """The map's layout (points: lasso by default; density image: zoom)."""
    return go.Layout(LAYOUT).update(
        title={"text": title, "x": 0.01, "font": {"size": 14}},
        dragmode=dragmode,
        uirevision="map",
        height=560,
        hovermode="closest",
        margin={**_MARGIN, "l": 30, "b": 30},
        xaxis={"showgrid": False, "zeroline": False},
        yaxis={"showgrid": False, "zeroline": False},
    )


def map_spec(
    xy: np.ndarray,
    codes: np.ndarray,
    hover: np.ndarray,
    stem_format: str | None,
    file_names: Sequence[str] | None,
    title: str,
    highlight: np.ndarray | None = None,
    rows: np.ndarray | None = None,
) -> dict:
    """What the browser needs to draw the WebGL map of every point (``assets/explorer.js``).

    Binary arrays, sent once per view: ``x``, ``y`` (float32), ``hover`` (N×2 int32 ``[identity,
    file stem]``) and ``codes`` (uint8 indices into ``MAP_PALETTE``: :func:`map_codes`); a re-
    clustering replaces only ``codes`` and the title. The browser draws one trace per colour: a
    single colour per trace skips plotly.js's per-point colour conversion, which took ~1.4 s of
    the 2.5 s redraw of 202,599 points in software WebGL. Every point's ``customdata`` is
    ``[identity, stem, position]`` (position in ``xy``), so a click or a lasso says which row it
    was. When every file name is a zero-padded number (CelebA's ``000001.jpg``) ``stem_format``
    (e.g. ``"06d.jpg"``) rebuilds it in the browser, otherwise ``file_names`` are sent as text.
    ``highlight`` (positions into ``xy``) rings the chosen person's faces.
    ``rows`` (int32), the dataset row of each point, lets the browser fetch a hovered point's
    thumbnail; None when the points are every row in order.
    """
    n = len(xy)
    name_part = (
        f"%{{customdata[1]:{stem_format[:-4]}}}{stem_format[-4:]}" if stem_format else "%{text}"
    )
    return {
        "x": typed_array(xy[:, 0].astype(np.float32)),
        "y": typed_array(xy[:, 1].astype(np.float32)),
        "hover": typed_array(hover.astype(np.int32)),
        "codes": typed_array(codes.astype(np.uint8)),
        "rows": None if rows is None else typed_array(rows.astype(np.int32)),
        "names": None if stem_format else list(file_names or []),
        "palette": list(MAP_PALETTE),
        "size": 3 if n > 50_000 else 5 if n > 5_000 else 7,
        "hovertemplate": f"person %{{customdata[0]}}<br>{name_part}<extra></extra>",
        "person": None if highlight is None or not len(highlight) else [int(i) for i in highlight],
        "layout": map_layout(title).to_plotly_json(),
    }


def density_spec(
    source: str, x_range: tuple[float, float], y_range: tuple[float, float], title: str, n: int
) -> dict:
    """The map as a density image (``source``, a PNG ``data:`` URL covering the ranges): what
    the browser draws instead of ``n`` points above the point budget. Zoom re-renders it; a click
    is resolved on the server (``assets/explorer.js`` sends its map coordinates)."""
    layout = map_layout(
        f"{title} · density of {n:,} points",
        dragmode="zoom",
    )
    layout.update(
        xaxis={"range": list(x_range), "autorange": False},
        yaxis={"range": list(y_range), "autorange": False},
    )
    return {
        "density": {"source": source, "x": list(x_range), "y": list(y_range)},
        "full": {"x": list(x_range), "y": list(y_range)},
        "n": n,
        "layout": layout.to_plotly_json(),
    }


def profile_figure(selection: pd.Series, whole: pd.Series, title: str) -> go.Figure:
    """Share of each attribute in a selection against the whole set (horizontal bars)."""
    order = (selection - whole).sort_values().index
    labels = [n.replace("_", " ") for n in order]
    fig = go.Figure(layout=LAYOUT)
    fig.add_trace(
        go.Bar(
            y=labels,
            x=whole[order] * 100,
            orientation="h",
            name="whole set",
            marker_color="#c9ced6",
        )
    )
    fig.add_trace(
        go.Bar(
            y=labels,
            x=selection[order] * 100,
            orientation="h",
            name="selection",
            marker_color=ACCENT,
        )
    )
    fig.update_layout(
        title={"text": title, "x": 0.01, "font": {"size": 14}},
        barmode="group",
        height=720,
        font={"size": 10},
        legend={"orientation": "h", "y": 1.03},
        xaxis={"title": "% of images", "range": [0, 100]},
        margin={**_MARGIN, "l": 130, "t": 70},
    )
    return fig
