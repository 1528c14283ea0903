"""Build self-contained HTML reports: sections of text, tables and inlined figures.

Every report opens offline: figures are embedded as base64 PNG data URIs and the stylesheet is
inline, so a report can be mailed or archived as one file.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from celebalab.io import write_text_atomic

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2330;
background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:18px 32px}header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;color:#b8c0cc;font-size:13px}
main{max-width:1200px;margin:0 auto;padding:16px 32px 48px}
section{background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.08);
padding:16px 24px;margin:18px 0}
h2{font-size:18px;margin:4px 0 12px}h3{font-size:15px;margin:14px 0 8px}
p.note{color:#555;font-size:13px}
p.summary{font-size:16px;line-height:1.5;background:#eef4ff;border-left:4px solid #2f6fdf;
padding:12px 16px;margin:8px 0 20px}
table.data{border-collapse:collapse;font-size:12.5px;margin:8px 0}
table.data th{background:#eef1f5;text-align:left;position:sticky;top:0}
table.data th,table.data td{padding:3px 8px;border-bottom:1px solid #e3e6ea;white-space:nowrap}
table.data td.num{text-align:right;font-variant-numeric:tabular-nums}
div.scroll{max-height:520px;overflow:auto}
img.fig{max-width:100%;height:auto;display:block;margin:8px 0}
nav a{color:#9fc3ff;margin-right:14px;font-size:13px}
"""


@dataclass
class Section:
    """One titled block of a report; ``parts`` are HTML fragments in display order."""

    title: str
    parts: list[str] = field(default_factory=list)

    def text(self, text: str, note: bool = False) -> Section:
        """Add a paragraph of plain text (escaped)."""
        cls = ' class="note"' if note else ""
        self.parts.append(f"<p{cls}>{html.escape(text)}</p>")
        return self

    def heading(self, text: str) -> Section:
        """Add a sub-heading."""
        self.parts.append(f"<h3>{html.escape(text)}</h3>")
        return self

    def table(
        self, frame: pd.DataFrame, float_format: str = "{:.3f}", index: bool = True
    ) -> Section:
        """Add a table; NaN is shown as 'undefined' so missing metrics are never read as numbers."""
        self.parts.append(table_html(frame, float_format=float_format, index=index))
        return self

    def figure(self, fig: Figure, alt: str = "", dpi: int = 110) -> Section:
        """Add a matplotlib figure as an inline PNG, then close it."""
        self.parts.append(img_tag(figure_png(fig, dpi=dpi), alt))
        return self

    def image(self, array: np.ndarray, alt: str = "") -> Section:
        """Add an HxWx3 uint8 array as an inline PNG."""
        self.parts.append(img_tag(array_png(array), alt))
        return self

    def raw(self, fragment: str) -> Section:
        """Add a trusted HTML fragment as is."""
        self.parts.append(fragment)
        return self


@dataclass
class Report:
    """An HTML report made of sections; :meth:`write` saves it atomically.

    ``summary`` (two plain sentences: what was measured, what it means) opens the report, before
    any table.
    """

    title: str
    subtitle: str = ""
    sections: list[Section] = field(default_factory=list)
    summary: str = ""

    def section(self, title: str) -> Section:
        """Append and return a new section."""
        sec = Section(title)
        self.sections.append(sec)
        return sec

    def extend(self, other: Report) -> None:
        """Append another report's sections (used by the demo to combine stage reports)."""
        self.sections.extend(other.sections)

    def render(self) -> str:
        """The whole report as one HTML document."""
        anchors = "".join(
            f'<a href="#s{i}">{html.escape(s.title)}</a>' for i, s in enumerate(self.sections)
        )
        body = "".join(
            f'<section id="s{i}"><h2>{html.escape(s.title)}</h2>{"".join(s.parts)}</section>'
            for i, s in enumerate(self.sections)
        )
        sub = f"<p>{html.escape(self.subtitle)}</p>" if self.subtitle else ""
        if self.summary:
            body = f'<p class="summary">{html.escape(self.summary)}</p>{body}'
        return (
            f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(self.title)}</title><style>{_STYLE}</style></head><body>"
            f"<header><h1>{html.escape(self.title)}</h1>{sub}<nav>{anchors}</nav></header>"
            f"<main>{body}</main></body></html>"
        )

    def write(self, path: str | Path) -> Path:
        """Write the report atomically and return its path."""
        return write_text_atomic(path, self.render())


def figure_png(fig: Figure, dpi: int = 110) -> bytes:
    """Render a matplotlib figure to PNG bytes and close it."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def array_png(array: np.ndarray) -> bytes:
    """Encode an HxW or HxWx3 uint8 array as PNG bytes."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array)).save(buf, format="PNG")
    return buf.getvalue()


def img_tag(png: bytes, alt: str = "") -> str:
    """An <img> element with the PNG inlined as a data URI."""
    data = base64.b64encode(png).decode("ascii")
    return f'<img class="fig" alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def table_html(frame: pd.DataFrame, float_format: str = "{:.3f}", index: bool = True) -> str:
    """Render a DataFrame as an HTML table; floats formatted, NaN shown as 'undefined'."""
    import pandas as pd

    cols = list(frame.columns)
    head = ("<th></th>" if index else "") + "".join(f"<th>{html.escape(str(c))}</th>" for c in cols)
    rows = []
    for idx, row in frame.iterrows():
        cells = [f"<th>{html.escape(str(idx))}</th>"] if index else []
        for value in row:
            if isinstance(value, (float, np.floating)):
                text = "undefined" if pd.isna(value) else float_format.format(value)
                cells.append(f'<td class="num">{text}</td>')
            elif isinstance(value, (int, np.integer)):
                cells.append(f'<td class="num">{value}</td>')
            else:
                cells.append(f"<td>{html.escape(str(value))}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return (
        f'<div class="scroll"><table class="data"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )
