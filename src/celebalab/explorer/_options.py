"""What ``celebalab explore`` takes besides its SOURCEs (:class:`ExplorerOptions`), declared once
with the shared options: the flags are made from these fields
(:func:`celebalab.cli_options.with_options`)."""

from __future__ import annotations

from dataclasses import dataclass

from celebalab.explorer._density import POINT_BUDGET
from celebalab.options import Interval, IsBool, Options, option


@dataclass(frozen=True, kw_only=True)
class ExplorerOptions(Options):
    """Where the explorer is served, what it reads beside the sources, and how it draws."""

    WHAT = "explorer"

    host: str = option("127.0.0.1", help="Interface to bind; the default is this machine only. "
                       "Use 0.0.0.0 (with --allow-remote) to share on your network.")  # fmt: skip
    port: int = option(8050, help="TCP port.", check=Interval(int, 1, 65535))
    allow_remote: bool = option(
        False, check=IsBool(),
        help="Allow a --host other than this machine: everyone who can reach it sees the "
        "explorer, without a login (served by waitress).",
    )  # fmt: skip
    images: str | None = option(
        None, help="Folder of the image files, when the sources do not record it."
    )
    model: str | None = option(
        None, help="Run that made the sets' vectors (e.g. `celebalab model import` of the model "
        "behind a CelebA-Vis CSV): uploaded photos are embedded through it.",
    )  # fmt: skip
    precompute: bool = option(
        True, check=IsBool(),
        help="Compute the first view's projection, clustering and metrics (and what the first "
        "click and re-clustering need) in the background from the start.",
    )  # fmt: skip
    point_budget: int = option(
        POINT_BUDGET, check=Interval(int, 1),
        help="Above this many points the map is a density image (re-rendered on zoom, clicks "
        "resolved on the server) instead of WebGL points.",
    )  # fmt: skip
