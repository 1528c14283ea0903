"""Matplotlib figures of the stats report, drawn without pyplot state (safe in threads/servers).

Every figure labels all 40 attributes legibly: heatmaps use the clustered attribute order so that
blocks of related attributes sit together.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_LABEL_SIZE = 8
_NAN_COLOR = "#d9d9d9"


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _cmap(name: str) -> Any:
    import matplotlib

    return matplotlib.colormaps[name].with_extremes(bad=_NAN_COLOR)


def frequency_figure(freq: pd.DataFrame) -> Figure:
    """Share of each attribute (sorted), per-partition shares as dots, the 90 % zones shaded."""
    order = freq.sort_values("share")
    fig = _figure(9, 10.5)
    ax = fig.add_subplot()
    y = np.arange(len(order))
    colors = np.where(order["trivial_over_90"], "#e07b39", "#3b75af")
    ax.barh(y, order["share"], color=colors, height=0.7, label="share (all rows)")
    markers = {"train": "o", "val": "s", "test": "^"}
    for name, marker in markers.items():
        column = f"share_{name}"
        if column in order and order[column].notna().any():
            ax.scatter(
                order[column],
                y,
                marker=marker,
                s=14,
                color="#222",
                alpha=0.65,
                label=f"share in {name}",
                zorder=3,
            )
    ax.axvspan(0, 0.1, color="#e07b39", alpha=0.08)
    ax.axvspan(0.9, 1, color="#e07b39", alpha=0.08)
    ax.axvline(0.5, color="#999", lw=0.8, ls="--")
    ax.set_yticks(y, order.index, fontsize=_LABEL_SIZE)
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.6, len(order) - 0.4)
    ax.set_xlabel("share of images with the attribute")
    ax.set_title("Attribute frequencies (orange: majority class alone is > 90 % accurate)")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    return fig


def heatmap_figure(
    frame: pd.DataFrame,
    order: Sequence[str],
    title: str,
    cmap: str,
    vmin: float,
    vmax: float,
    colorbar_label: str,
    xlabel: str = "",
    ylabel: str = "",
) -> Figure:
    """A 40 × 40 heatmap in ``order`` (rows and columns), undefined cells in grey."""
    data = frame.loc[list(order), list(order)].to_numpy(dtype=np.float64)
    fig = _figure(11, 10)
    ax = fig.add_subplot()
    image = ax.imshow(np.ma.masked_invalid(data), cmap=_cmap(cmap), vmin=vmin, vmax=vmax)
    ticks = np.arange(len(order))
    ax.set_xticks(ticks, order, rotation=90, fontsize=_LABEL_SIZE)
    ax.set_yticks(ticks, order, fontsize=_LABEL_SIZE)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    fig.colorbar(image, ax=ax, shrink=0.7, label=colorbar_label)
    return fig


def predictability_figure(table: pd.DataFrame, title: str) -> Figure:
    """Per attribute: majority baseline → model accuracy, and balanced accuracy beside them."""
    order = table.sort_values("gain_over_baseline")
    fig = _figure(9, 10.5)
    ax = fig.add_subplot()
    y = np.arange(len(order))
    ax.hlines(y, order["baseline_accuracy"], order["accuracy"], color="#9bb7d4", lw=2)
    ax.scatter(
        order["baseline_accuracy"], y, color="#888", s=18, label="majority-class baseline", zorder=3
    )
    ax.scatter(order["accuracy"], y, color="#3b75af", s=18, label="accuracy", zorder=3)
    ax.scatter(
        order["balanced_accuracy"],
        y,
        color="#e07b39",
        marker="x",
        s=22,
        label="balanced accuracy",
        zorder=3,
    )
    ax.axvline(0.5, color="#999", lw=0.8, ls="--")
    ax.set_yticks(y, order.index, fontsize=_LABEL_SIZE)
    ax.set_ylim(-0.6, len(order) - 0.4)
    ax.set_xlim(0.3, 1.0)
    ax.set_xlabel("score on the test rows (sorted by accuracy gain over the baseline)")
    ax.set_title(title)
    fig.legend(loc="outside lower center", ncols=3, fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    return fig


def sweep_figure(sweep: pd.DataFrame, k: int) -> Figure:
    """Elbow (inertia) and silhouette against k, the chosen k marked."""
    fig = _figure(8, 4)
    ax = fig.add_subplot()
    ax.plot(sweep["k"], sweep["inertia"], "-o", color="#3b75af", label="inertia (all rows)")
    ax.set_xlabel("number of clusters k")
    ax.set_ylabel("inertia", color="#3b75af")
    ax.set_xticks(sweep["k"])
    ax.axvline(k, color="#999", ls="--", lw=1)
    twin = ax.twinx()
    twin.plot(sweep["k"], sweep["silhouette"], "-s", color="#e07b39", label="silhouette (sample)")
    twin.set_ylabel("silhouette", color="#e07b39")
    ax.set_title(f"k-means sweep (chosen k = {k})")
    fig.legend(loc="outside lower center", ncols=2, fontsize=8)
    return fig


def profile_figure(profiles: pd.DataFrame, order: Sequence[str], sizes: pd.Series) -> Figure:
    """Share of each attribute in each cluster (0/1 units), annotated."""
    data = profiles[list(order)].to_numpy(dtype=np.float64).T
    k = data.shape[1]
    fig = _figure(3.2 + 0.75 * k, 11)
    ax = fig.add_subplot()
    image = ax.imshow(
        np.ma.masked_invalid(data), cmap=_cmap("viridis"), vmin=0, vmax=1, aspect="auto"
    )
    for (row, col), value in np.ndenumerate(data):
        if not np.isnan(value):
            ax.text(
                col,
                row,
                f"{value:.2f}",
                ha="center",
                va="center",
                fontsize=6.5,
                color="white" if value < 0.6 else "black",
            )
    ax.set_yticks(np.arange(len(order)), order, fontsize=_LABEL_SIZE)
    ax.set_xticks(np.arange(k), [f"{c}\n(n={sizes[c]:,})" for c in range(k)], fontsize=_LABEL_SIZE)
    ax.set_xlabel("cluster")
    ax.set_title("Cluster profiles: share of faces with each attribute")
    fig.colorbar(image, ax=ax, shrink=0.5, label="share with attribute")
    return fig


def distance_figure(distances: pd.DataFrame) -> Figure:
    """Euclidean distances between cluster centroids (standardised units), annotated."""
    data = distances.to_numpy(dtype=np.float64)
    k = data.shape[0]
    fig = _figure(2.5 + 0.55 * k, 1.8 + 0.5 * k)
    ax = fig.add_subplot()
    image = ax.imshow(data, cmap=_cmap("magma_r"))
    for (row, col), value in np.ndenumerate(data):
        ax.text(
            col,
            row,
            f"{value:.1f}",
            ha="center",
            va="center",
            fontsize=7,
            color="white" if value > 0.6 * data.max() else "black",
        )
    ax.set_xticks(np.arange(k), range(k))
    ax.set_yticks(np.arange(k), range(k))
    ax.set_xlabel("cluster")
    ax.set_ylabel("cluster")
    ax.set_title("Distance between centroids")
    fig.colorbar(image, ax=ax, shrink=0.8, label="standardised units")
    return fig


def maps_figure(
    panels: Sequence[tuple[str, np.ndarray, str]], labels: np.ndarray, k: int
) -> Figure:
    """Side-by-side 2-D maps (title, n × 2 coordinates, axis prefix), points coloured by cluster."""
    import matplotlib

    cmap = matplotlib.colormaps["tab10"]
    fig = _figure(6 * len(panels), 5.4)
    for i, (title, coords, prefix) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        for c in range(k):
            members = labels == c
            ax.scatter(
                coords[members, 0],
                coords[members, 1],
                s=3,
                alpha=0.5,
                color=cmap(c % 10),
                label=f"cluster {c}",
                rasterized=True,
            )
        ax.set_title(title)
        ax.set_xlabel(f"{prefix} 1")
        ax.set_ylabel(f"{prefix} 2")
        ax.set_xticks([])
        ax.set_yticks([])
    handles = fig.axes[0].get_legend_handles_labels()
    fig.legend(*handles, loc="outside right center", markerscale=4, fontsize=8)
    return fig
