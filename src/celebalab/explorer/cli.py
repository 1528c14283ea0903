"""``celebalab explore SOURCE…``: open the explorer web app on embedding sets, CSVs or datasets."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Annotated

import typer

from celebalab._help import example
from celebalab.explorer.density import POINT_BUDGET


def register(app: typer.Typer) -> None:
    """Add the ``explore`` command to the celebalab CLI."""
    app.command(
        "explore", epilog=example("celebalab explore emb/id data/synth/CelebA --port 8050")
    )(explore_command)


def explore_command(
    sources: Annotated[
        list[Path],
        typer.Argument(
            help="Embedding set folders, CelebA-Vis .csv files or dataset roots "
            "(one dropdown entry each).",
            show_default=False,
        ),
    ],
    host: Annotated[
        str,
        typer.Option(
            help="Interface to bind; the default is this machine "
            "only. Use 0.0.0.0 (with --allow-remote) to share on your network."
        ),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8050,
    allow_remote: Annotated[
        bool,
        typer.Option(
            help="Allow a --host other than this machine: everyone who can reach it sees the "
            "explorer, without a login (served by waitress)."
        ),
    ] = False,
    images: Annotated[
        Path | None,
        typer.Option(help="Folder of the image files, when the sources do not record it."),
    ] = None,
    model: Annotated[
        Path | None,
        typer.Option(
            help="Run that made the sets' vectors (e.g. `celebalab model import` of the model "
            "behind a CelebA-Vis CSV): uploaded photos are embedded through it."
        ),
    ] = None,
    precompute: Annotated[
        bool,
        typer.Option(
            help="Compute the first view's projection, clustering and metrics (and what the "
            "first click and re-clustering need) in the background from the start."
        ),
    ] = True,
    point_budget: Annotated[
        int,
        typer.Option(
            min=1,
            help="Above this many points the map is a density image (re-rendered on zoom, clicks "
            "resolved on the server) instead of WebGL points.",
        ),
    ] = POINT_BUDGET,
) -> None:
    """Explore attributes, people, projections and clusters of face embeddings in a browser."""
    from celebalab.explorer import serving
    from celebalab.explorer.app import build_app
    from celebalab.explorer.query import use_model
    from celebalab.explorer.sources import open_sources
    from celebalab.explorer.views import Explorer

    sock = serving.bind(host, port)  # before any work: a bad host or busy port is one line
    serving.check_remote(sock, host, allow_remote)
    local = serving.is_loopback(sock)
    if not local:
        typer.echo(serving.remote_warning(host, port), err=True)
    opened = open_sources(list(sources), images=images)
    explorer = Explorer(
        sources=use_model(opened, model) if model is not None else opened,
        point_budget=point_budget,
    )
    for source in explorer.sources:
        typer.echo(
            f"{source.name}: {len(source):,} images"
            + ("" if source.has_embeddings else " (attributes only)")
        )
    app = build_app(explorer, compress=not local)
    if precompute:  # while the server starts: the page's pies need none of it
        threading.Thread(
            target=explorer.warm_up,
            kwargs={"preload_after_first_view": True},
            name="explorer-warm-up",
            daemon=True,
        ).start()
    typer.echo(f"celebalab explorer on http://{host}:{port}/  (Ctrl+C to stop)")
    serving.serve(app.server, sock)


#: Where ``make demo`` leaves its embedding sets (the face-recognition stage).
DEMO_SETS = ("recognition/identity_embeddings", "recognition/attribute_embeddings")


def demo_command(out: Path) -> str:
    """The one command that opens the explorer on a demo's output: its embedding sets, or its
    synthetic dataset (attributes only) when the demo made none."""
    import shlex

    sets = [out / name for name in DEMO_SETS if (out / name / "manifest.json").exists()]
    sources = sets or [out / "data" / "CelebA"]
    return "celebalab explore " + " ".join(shlex.quote(str(p)) for p in sources)
