"""The page's first paint: the first pies and the map's density image inside the HTML itself.

Why: a Dash page is empty until its renderer has started (about 1.4 s of JavaScript on a 2-core
machine without a GPU) and its pies wait for plotly.js besides. The first view's pies are drawn
here as a small SVG (no JavaScript: plain arcs), and the HTML the server sends holds them and
the map's density preview, so the browser paints both as soon as the page arrives. Dash's
renderer replaces this skeleton with the live page, which shows the same pictures until plotly.js
has drawn its own (``explorer.css`` hides them then).
"""

from __future__ import annotations

import base64
import math
from html import escape

import plotly.graph_objects as go

from celebalab.explorer._figures import PIE_COLOURS

_CELL_W, _CELL_H, _RADIUS, _HEAD = 300, 230, 80, 44


def pies_svg(figure: go.Figure, width_cells: int = 2) -> str:
    """The pies of ``figure`` (:func:`figures.pie_figure`) as an SVG document: its title, then a
    grid of pies, each with its attribute name and the share of "yes"."""
    pies = [t for t in figure.data if t.type == "pie"]
    rows = max(1, -(-len(pies) // width_cells))
    width, height = _CELL_W * width_cells, _HEAD + _CELL_H * rows
    title = escape(figure.layout.title.text or "")
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'font-family="system-ui, sans-serif">',
        f'<text x="8" y="24" font-size="15" fill="#444">{title}</text>',
    ]
    for i, pie in enumerate(pies):
        row, col = divmod(i, width_cells)
        cx, cy = _CELL_W * col + _CELL_W / 2, _HEAD + _CELL_H * row + _CELL_H / 2 + 12
        no, yes = (int(v) for v in pie.values)
        name = escape(str(pie.title.text or pie.name))
        parts.append(f'<text x="{cx}" y="{cy - _RADIUS - 12}" font-size="13" '
                     f'text-anchor="middle" fill="#444">{name}</text>')  # fmt: skip
        parts.extend(_pie(cx, cy, no, yes))
    parts.append("</svg>")
    return "".join(parts)


def _pie(cx: float, cy: float, no: int, yes: int) -> list[str]:
    """A two-slice pie drawn clockwise from the top, as plotly draws it ("no" first)."""
    total = no + yes
    if total == 0:
        return [f'<circle cx="{cx}" cy="{cy}" r="{_RADIUS}" fill="#eee"/>']
    out = []
    start = 0.0
    for value, colour in ((no, PIE_COLOURS[0]), (yes, PIE_COLOURS[1])):
        share = value / total
        if share >= 1:
            out.append(f'<circle cx="{cx}" cy="{cy}" r="{_RADIUS}" fill="{colour}"/>')
        elif share > 0:
            end = start + share
            x0, y0 = _point(cx, cy, start)
            x1, y1 = _point(cx, cy, end)
            large = 1 if share > 0.5 else 0
            out.append(
                f'<path d="M{cx},{cy} L{x0:.1f},{y0:.1f} A{_RADIUS},{_RADIUS} 0 {large} 1 '
                f'{x1:.1f},{y1:.1f} Z" fill="{colour}" stroke="white" stroke-width="1"/>'
            )
            mid_x, mid_y = _point(cx, cy, start + share / 2, 0.6)
            if share >= 0.04:
                out.append(
                    f'<text x="{mid_x:.1f}" y="{mid_y + 4:.1f}" font-size="12" '
                    f'text-anchor="middle" fill="#222">{100 * share:.1f}%</text>'
                )
        start += share
    return out


def _point(cx: float, cy: float, turn: float, scale: float = 1.0) -> tuple[float, float]:
    angle = 2 * math.pi * turn
    return cx + scale * _RADIUS * math.sin(angle), cy - scale * _RADIUS * math.cos(angle)


def svg_url(svg: str) -> str:
    """An SVG document as a ``data:`` URL (an ``<img>`` source)."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def skeleton(pies: str, preview: str | None) -> str:
    """The HTML painted before Dash's renderer starts: the page's header and, where the live
    page puts them, the pies (``pies``: an image URL) and the map's density image."""
    map_image = (
        f'<img class="first-map" src="{preview}" alt="density of the map">' if preview else ""
    )
    return (
        '<div class="container-fluid first-paint"><h4 class="my-2">celebalab explorer</h4>'
        '<div class="row g-3"><div class="col-md-4 col-lg-3"></div>'
        '<div class="col-md-8 col-lg-9"><div class="row g-3"><div class="col-xl-8 col-12">'
        '<div class="card mb-3 shadow-sm"><div class="card-header fw-semibold py-2">Attributes'
        f'</div><div class="card-body p-2"><img class="first-pies" src="{pies}" '
        'alt="attribute pies"></div></div>'
        '<div class="card mb-3 shadow-sm"><div class="card-header fw-semibold py-2">Map</div>'
        f'<div class="card-body p-2">{map_image}</div></div></div></div></div></div></div>'
    )
