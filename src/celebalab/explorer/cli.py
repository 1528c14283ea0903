"""``celebalab explore SOURCE…``: open the explorer web app on embedding sets, CSVs or datasets."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Annotated, Any

import typer

from celebalab._help import example
from celebalab.cli_options import with_options
from celebalab.explorer._options import ExplorerOptions


def register(app: typer.Typer) -> None:
    """Add the ``explore`` command to the celebalab CLI."""
    app.command(
        "explore", epilog=example("celebalab explore emb/id data/synth/CelebA --port 8050")
    )(explore_command)


@with_options(ExplorerOptions)
def explore_command(
    sources: Annotated[
        list[Path],
        typer.Argument(
            help="Embedding set folders, CelebA-Vis .csv files or dataset roots "
            "(one dropdown entry each).",
            show_default=False,
        ),
    ],
    options: dict[str, Any],
) -> None:
    """Explore attributes, people, projections and clusters of face embeddings in a browser."""
    from celebalab.explorer import serving
    from celebalab.explorer._query import use_model
    from celebalab.explorer.app import build_app
    from celebalab.explorer.sources import open_sources
    from celebalab.explorer.views import Explorer

    o = ExplorerOptions.from_dict(options, "the command line")
    host, port, images = o.host, o.port, Path(o.images) if o.images else None
    sock = serving.bind(host, port)  # before any work: a bad host or busy port is one line
    serving.check_remote(sock, host, o.allow_remote)
    local = serving.is_loopback(sock)
    if not local:
        typer.echo(serving.remote_warning(host, port), err=True)
    opened = open_sources(list(sources), images=images)
    explorer = Explorer(
        sources=use_model(opened, Path(o.model)) if o.model else opened,
        point_budget=o.point_budget,
    )
    for source in explorer.sources:
        typer.echo(
            f"{source.name}: {len(source):,} images"
            + ("" if source.has_embeddings else " (attributes only)")
        )
    app = build_app(explorer, compress=not local)
    if o.precompute:  # while the server starts: the page's pies need none of it
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
