"""The map as a server-rendered density image (datashader): first paint, and the map of huge sets.

Why: the WebGL points of 200,000 faces take seconds to arrive and draw in a browser without a
GPU, and millions do not fit at all. A datashader image of every point, coloured by cluster, is a
PNG of a few tens of kB that any browser paints at once. The page shows it while the points
travel; above a point budget it *is* the map: zooming re-renders it for the new ranges, and a
click is resolved on the server to the nearest point (:func:`nearest`).

datashader (with numba) is imported on first use only: importing it and compiling its
aggregation takes ~3 s on 2 cores, so the explorer renders the first view's image once in the
background and caches its PNG bytes on disk.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import numpy as np

#: Above this many map points the density image is the map (measured: benchmarks/RESULTS.md).
POINT_BUDGET = 500_000
#: The image's size in pixels (about the map's plot area on a wide screen).
WIDTH, HEIGHT = 900, 500
#: Margin around the points, as a share of their extent (plotly's autorange pads alike).
PAD = 0.04
Range = tuple[float, float]


def bounds(xy: np.ndarray) -> tuple[Range, Range]:
    """The x and y ranges that show every point of ``xy`` with a small margin."""
    if len(xy) == 0:
        return (-1.0, 1.0), (-1.0, 1.0)
    low, high = np.nanmin(xy, axis=0).astype(float), np.nanmax(xy, axis=0).astype(float)
    span = np.maximum(high - low, 1e-9)
    low, high = low - PAD * span, high + PAD * span
    return (low[0], high[0]), (low[1], high[1])


def render_png(
    xy: np.ndarray,
    codes: np.ndarray,
    palette: Sequence[str],
    x_range: Range,
    y_range: Range,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> bytes:
    """A transparent PNG of ``xy`` in the given ranges, each pixel coloured by the mix of the
    colour codes (indices into ``palette``) that fall in it, its opacity by how many
    (histogram-equalised, so dense cores and sparse edges both show); sparse maps get their
    pixels spread so single points stay visible."""
    import datashader as ds
    import datashader.transfer_functions as tf
    import pandas as pd

    frame = pd.DataFrame(
        {
            "x": np.asarray(xy[:, 0], dtype=np.float32),
            "y": np.asarray(xy[:, 1], dtype=np.float32),
            "c": pd.Categorical.from_codes(
                np.asarray(codes, dtype=np.int16), categories=range(len(palette))
            ),
        }
    )
    canvas = ds.Canvas(plot_width=width, plot_height=height, x_range=x_range, y_range=y_range)
    counts = canvas.points(frame, "x", "y", ds.count_cat("c"))
    image = tf.shade(counts, color_key=list(palette), how="eq_hist", min_alpha=90)
    image = tf.dynspread(image, threshold=0.6, max_px=3)
    out = io.BytesIO()
    image.to_pil().save(out, format="PNG", optimize=False)
    return out.getvalue()


def data_url(png: bytes) -> str:
    """``png`` as a ``data:`` URL (it comes inside the page or the callback's answer)."""
    return "data:image/png;base64," + base64.b64encode(png).decode()


def nearest(xy: np.ndarray, x: float, y: float, radius: float) -> int | None:
    """Index of the point of ``xy`` nearest to (x, y) within ``radius``, or None.

    A brute-force scan (about 40 ms for 5,000,000 points): a click is rare, and an index over
    the points would cost more memory than the points."""
    if len(xy) == 0:
        return None
    distance = (xy[:, 0] - np.float32(x)) ** 2 + (xy[:, 1] - np.float32(y)) ** 2
    best = int(np.argmin(distance))
    return best if distance[best] <= radius * radius else None
