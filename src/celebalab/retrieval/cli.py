"""CLI of retrieval: ``celebalab retrieve EMB QUERY… --k 10 [--by …] [--where …] [--out DIR]``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from celebalab._help import example
from celebalab.cli_options import with_options
from celebalab.retrieval.query import RetrieveOptions

_OUT = "Output"


@with_options(RetrieveOptions)
def retrieve_command(
    emb: Annotated[Path, typer.Argument(help="Embedding set folder.")],
    queries: Annotated[list[str], typer.Argument(help="Image ids of the set or image files.")],
    options: dict[str, Any],
    out: Annotated[
        Path | None,
        typer.Option(help="Folder for results.json, grid.png, results.html.", rich_help_panel=_OUT),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option(help="Replace existing outputs in --out.", rich_help_panel=_OUT)
    ] = False,
) -> None:
    """Rank the faces of an embedding set by similarity to each query."""
    from celebalab.embeddings import load_embeddings
    from celebalab.io import check_output_dir, check_output_file
    from celebalab.retrieval.grid import write_retrieval_outputs
    from celebalab.retrieval.query import retrieve

    o = RetrieveOptions.from_dict(options, "the command line")
    if out is not None:
        check_output_dir(out, "--out", overwrite=True)
        check_output_file(out / "results.json", "--out", overwrite=overwrite)
    emb_set = load_embeddings(emb)
    result = retrieve(emb_set, queries, o.k, by=o.by, where=o.where, **o.index_params())
    for query, found in zip(result.queries, result.neighbours, strict=True):
        typer.echo(f"query {query.text} (identity {query.identity}):")
        for n in found:
            mark = " *" if n["same_identity"] else ""
            typer.echo(f"  {n['rank']:>3}  {n['image_id']:<16} distance {n['distance']:.4f}  "
                       f"identity {n['identity']}{mark}")  # fmt: skip
    for s in result.skipped:
        typer.echo(f"skipped {s['path']}: {s['reason']}", err=True)
    for note in result.notes:
        typer.echo(f"note: {note}")
    if out is not None:
        paths = write_retrieval_outputs(result, emb_set, out)
        typer.echo(f"wrote {paths['json']}, {paths['png']}, {paths['html']}")


def register(app: typer.Typer) -> None:
    """Add ``retrieve`` to the root CLI."""
    app.command(
        "retrieve",
        epilog=example("celebalab retrieve emb/id 000123.jpg my_face.jpg --k 10 --out out/search"),
    )(retrieve_command)
