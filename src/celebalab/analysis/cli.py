"""``celebalab stats ROOT --out DIR``: attribute statistics of a dataset, as tables and a report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from celebalab._help import example
from celebalab.analysis.config import StatsOptions
from celebalab.cli_options import with_options


@with_options(StatsOptions)
def stats(
    root: Annotated[
        Path, typer.Argument(help="Dataset root (CelebA official/Kaggle or CelebAMask-HQ).")
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for tables, summary.json, report.html.")
    ],
    options: dict[str, Any],
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace a non-empty --out folder.")
    ] = False,
) -> None:
    """Frequencies, co-occurrence, predictability and clusters of the 40 attributes.

    The outputs appear in --out only once all are written (a hidden staging folder beside it
    holds them until then).
    """
    from celebalab.analysis.runner import run_stats

    settings = StatsOptions.from_dict(options, "the command line")
    result = run_stats(root, out, overwrite=overwrite, **settings.to_dict())
    for note in result.notes:
        typer.echo(f"note: {note}")
    seconds = sum(result.timings.values())
    typer.echo(
        f"{result.dataset['rows']:,} rows analysed in {seconds:.1f} s; "
        f"report: {result.files['report.html']}"
    )


def register(app: typer.Typer) -> None:
    """Add the ``stats`` command to the root ``celebalab`` app."""
    app.command("stats", epilog=example("celebalab stats data/synth/CelebA --out out/stats"))(stats)
