"""``celebalab stats ROOT --out DIR``: attribute statistics of a dataset, as tables and a report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from celebalab._help import example
from celebalab.analysis._inputs import PARTITION_CHOICES


def stats(
    root: Annotated[
        Path, typer.Argument(help="Dataset root (CelebA official/Kaggle or CelebAMask-HQ).")
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for tables, summary.json, report.html.")
    ],
    partition: Annotated[
        str, typer.Option(help=f"Rows to analyse: {' | '.join(PARTITION_CHOICES)}.")
    ] = "all",
    k: Annotated[
        int | None, typer.Option("--k", help="Number of clusters (default: best silhouette).")
    ] = None,
    sample: Annotated[int, typer.Option(help="Rows sampled for silhouette and t-SNE.")] = 5000,
    tsne: Annotated[bool, typer.Option("--tsne/--no-tsne", help="Compute the t-SNE map.")] = True,
    images: Annotated[
        bool, typer.Option("--images/--no-images", help="Sample images per cluster.")
    ] = True,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace a non-empty --out folder.")
    ] = False,
) -> None:
    """Frequencies, co-occurrence, predictability and clusters of the 40 attributes.

    The outputs appear in --out only once all are written (a hidden staging folder beside it
    holds them until then).
    """
    from celebalab.analysis.runner import run_stats

    result = run_stats(
        root,
        out,
        overwrite=overwrite,
        partition=partition,
        k=k,
        sample=sample,
        tsne=tsne,
        images=images,
    )
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
