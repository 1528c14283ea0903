"""The picture of a retrieval: each query beside its ranked neighbours, as a PNG and an HTML page.

Why a figure and not just the JSON: whether neighbours "look alike" is judged by eye. Each row
shows the query and its neighbours with rank, distance and identity; a neighbour of the query's
own identity is framed green, another identity grey (unknown identities are not framed).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from celebalab.reports.html import Report, Section, figure_png
from celebalab.retrieval.query import RetrievalResult

THUMB = 96


def _thumb(path: Path | None) -> np.ndarray | None:
    from PIL import Image

    if path is None or not Path(path).is_file():
        return None
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB").resize((THUMB, int(THUMB * im.height / im.width))))
    except OSError:
        return None


#: An embedding set's ``image_path``: image id → its file inside the set's folder, or None.
ImagePath = Callable[[str], Path | None]


def retrieval_figure(result: RetrievalResult, image_path: ImagePath) -> Any:
    """A matplotlib figure: one row per query (query, then its k neighbours)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, cols = len(result.queries), 1 + result.k
    fig, axes = plt.subplots(rows, cols, figsize=(1.35 * cols, 2.05 * rows + 0.3), squeeze=False,
                             layout="constrained")  # fmt: skip
    for r, (query, found) in enumerate(zip(result.queries, result.neighbours, strict=True)):
        _tile(axes[r, 0], _thumb(query.path), f"query\n{Path(query.text).name}", "#1d2330", 3)
        for c in range(1, cols):
            ax = axes[r, c]
            if c - 1 >= len(found):
                ax.axis("off")
                continue
            n = found[c - 1]
            colour = None if query.identity < 0 or n["identity"] < 0 else (
                "#1a9850" if n["same_identity"] else "#9aa0a6")  # fmt: skip
            path = image_path(n["image_id"])
            label = f"#{n['rank']} d={n['distance']:.3g}\nid {n['identity']}"
            _tile(ax, _thumb(path), label, colour, 3 if n["same_identity"] else 1.5)
    where = ", ".join(f"{k}={v}" for k, v in result.where.items())
    fig.suptitle(f"nearest faces by {result.by}" + (f" where {where}" if where else ""), fontsize=9)
    return fig


def _tile(ax: Any, image: np.ndarray | None, label: str, colour: str | None, width: float) -> None:
    if image is None:
        image = np.full((int(THUMB * 218 / 178), THUMB, 3), 235, np.uint8)
    ax.imshow(image)
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(colour is not None)
        if colour:
            spine.set_edgecolor(colour)
            spine.set_linewidth(width)
    ax.set_title(label, fontsize=6.5)


def retrieval_section(sec: Section, result: RetrievalResult, image_path: ImagePath) -> Section:
    """Add the figure and a table of the ranked neighbours to a report section."""
    sec.figure(retrieval_figure(result, image_path), alt="query faces and their nearest faces")
    rows = [{"query": q.text, **n} for q, found in zip(result.queries, result.neighbours,
                                                       strict=True) for n in found]  # fmt: skip
    if rows:
        sec.table(pd.DataFrame(rows).drop(columns=["row"]), float_format="{:.4f}", index=False)
    return sec


def write_retrieval_outputs(result: RetrievalResult, emb: Any, out: Path) -> dict[str, Path]:
    """``out/results.json``, ``out/grid.png`` and ``out/results.html``; returns their paths."""
    from celebalab.io import write_bytes_atomic, write_json_atomic

    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "results.json", "png": out / "grid.png", "html": out / "results.html"}
    write_json_atomic(paths["json"], {"embeddings": str(emb.path), **result.to_json()})
    write_bytes_atomic(paths["png"], figure_png(retrieval_figure(result, emb.image_path)))
    report = Report(title="celebalab retrieve", subtitle=f"{emb.path} · {len(emb)} faces · "
                    f"by {result.by} · index {result.index_kind}")  # fmt: skip
    retrieval_section(report.section("Nearest faces"), result, emb.image_path)
    report.write(paths["html"])
    return paths
