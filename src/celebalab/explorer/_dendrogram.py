"""The interactive hierarchical view: a Ward tree of the (filtered) faces, drawn with clickable
nodes so that a branch or a leaf shows its images.

CelebA-Vis drew ``plotly.figure_factory.create_dendrogram`` — static, in its own colours, only
on images with three attributes set to 1. Here the tree is built (SciPy) on the current filtered
subset, at most ``HIERARCHY_CAP`` faces of it (a seeded sample beyond that), the top merges are
drawn down to ``leaves`` branches, every drawn node carries its id, and branches are coloured by
the app's cluster palette after cutting the tree into ``k`` clusters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from celebalab.explorer._clustering import hierarchy_sample, linkage_tree
from celebalab.explorer._figures import LAYOUT, cluster_colour

DARK = "#5f6b7a"


@dataclass(frozen=True)
class Tree:
    """A Ward tree over ``rows`` (dataset rows of its leaves, in linkage order)."""

    rows: np.ndarray
    linkage: np.ndarray

    @property
    def n(self) -> int:
        """Number of faces in the tree."""
        return len(self.rows)

    def positions(self, node: int) -> np.ndarray:
        """Positions (into ``rows``) of the faces under ``node`` (leaf < n, or n + merge)."""
        if not 0 <= node < 2 * self.n - 1:
            raise ValueError(f"no node {node} in a tree of {self.n} faces")
        stack, leaves = [node], []
        while stack:
            current = stack.pop()
            if current < self.n:
                leaves.append(current)
            else:
                left, right = self.linkage[current - self.n, :2].astype(int)
                stack += [left, right]
        return np.asarray(leaves, dtype=np.int64)

    def members(self, node: int) -> np.ndarray:
        """Dataset rows under ``node``, sorted."""
        return np.sort(self.rows[self.positions(node)])


def build_tree(space: np.ndarray, rows: np.ndarray) -> Tree | None:
    """Ward tree of ``space[rows]`` (sampled to the cap); None with fewer than two rows."""
    rows = np.asarray(rows)
    if len(rows) < 2:
        return None
    chosen = rows[hierarchy_sample(len(rows))]
    return Tree(rows=chosen, linkage=linkage_tree(np.asarray(space[chosen])))


def tree_labels(tree: Tree, k: int) -> np.ndarray:
    """Cluster (0..k-1) of each tree leaf after cutting the tree into ``k`` clusters."""
    from scipy.cluster.hierarchy import fcluster

    return fcluster(tree.linkage, t=max(1, min(k, tree.n)), criterion="maxclust") - 1


def dendrogram_figure(tree: Tree, k: int, leaves: int, title: str) -> go.Figure:
    """The tree drawn down to ``leaves`` branches; each node marker's customdata is its id."""
    n = tree.n
    shown = max(1, min(leaves, n))
    first_drawn_merge = (n - 1) - (shown - 1)  # merges before this one are folded into leaves
    labels = tree_labels(tree, k)
    xs: dict[int, float] = {}
    ys: dict[int, float] = {}
    colour: dict[int, str] = {}
    sizes: dict[int, int] = {}
    segments: dict[str, tuple[list, list]] = {}
    slot = 0
    # iterative post-order walk from the root
    root = 2 * n - 2
    stack = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        is_leaf = node < n or node - n < first_drawn_merge
        if is_leaf:
            members = tree.positions(node)
            xs[node], ys[node] = slot * 10.0 + 5.0, 0.0
            slot += 1
            sizes[node] = len(members)
            found = np.unique(labels[members])
            colour[node] = cluster_colour(int(found[0])) if found.size == 1 else DARK
            continue
        left, right = tree.linkage[node - n, :2].astype(int)
        if not expanded:
            stack += [(node, True), (right, False), (left, False)]
            continue
        xs[node] = (xs[left] + xs[right]) / 2
        ys[node] = float(tree.linkage[node - n, 2])
        sizes[node] = sizes[left] + sizes[right]
        colour[node] = colour[left] if colour[left] == colour[right] else DARK
        for child in (left, right):
            line_x, line_y = segments.setdefault(
                colour[child] if colour[node] == DARK else colour[node], ([], [])
            )
            line_x += [xs[child], xs[child], xs[node], None]
            line_y += [ys[child], ys[node], ys[node], None]
    fig = go.Figure(layout=LAYOUT)
    for line_colour, (line_x, line_y) in segments.items():
        fig.add_trace(
            go.Scatter(
                x=line_x,
                y=line_y,
                mode="lines",
                hoverinfo="skip",
                line={"color": line_colour, "width": 1.6},
                showlegend=False,
            )
        )
    nodes = sorted(xs)
    fig.add_trace(
        go.Scatter(
            x=[xs[i] for i in nodes],
            y=[ys[i] for i in nodes],
            mode="markers",
            name="nodes",
            customdata=nodes,
            text=[f"{sizes[i]} images" for i in nodes],
            marker={
                "size": [9 if ys[i] == 0 else 7 for i in nodes],
                "color": [colour[i] for i in nodes],
                "line": {"width": 1, "color": "white"},
            },
            hovertemplate="%{text} · distance %{y:.2f}<br>click to show them<extra></extra>",
            showlegend=False,
        )
    )
    fig.update_layout(
        title={"text": title, "x": 0.01, "font": {"size": 14}},
        height=380,
        hovermode="closest",
        margin={**LAYOUT.margin.to_plotly_json(), "l": 50},
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(title="Ward distance", showgrid=True, gridcolor="#eef0f3", zeroline=False)
    return fig
