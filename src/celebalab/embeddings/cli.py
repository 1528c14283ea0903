"""CLI group ``celebalab embed``: import, export, extract and evaluate embedding sets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from celebalab._help import example
from celebalab.cli_options import Progress, with_options
from celebalab.embeddings.config import (
    EmbeddingExportOptions,
    EmbeddingImportOptions,
    EvaluateOptions,
    ExtractOptions,
)

app = typer.Typer(no_args_is_help=True, help="Face embeddings: import, export, extract, evaluate.")


@app.command(
    "import", epilog=example("celebalab embed import celeba_buffalo_l.csv --out emb/buffalo_l")
)
@with_options(EmbeddingImportOptions)
def import_command(
    file: Annotated[Path, typer.Argument(help="CelebA-Vis CSV (celeba_buffalo_*.csv) or .npy.")],
    out: Annotated[Path, typer.Option("--out", help="Embedding set folder to create.")],
    options: dict[str, Any],
    overwrite: Annotated[bool, typer.Option(help="Replace an existing set in --out.")] = False,
) -> None:
    """Import embeddings users already have into an embedding set."""
    from celebalab.embeddings.importers import import_celeba_vis_csv, import_npy
    from celebalab.errors import CelebalabError, OptionError

    o = EmbeddingImportOptions.from_dict(options, "the command line")
    images, ids, root = (None if p is None else Path(p) for p in (o.images, o.ids, o.root))
    if file.suffix.lower() == ".npy":
        if ids is None:
            raise CelebalabError(f"{file}: a .npy import needs --ids FILE (one image id per line)")
        emb = import_npy(file, ids, out, images, root=root, overwrite=overwrite)
    elif ids is not None:
        raise OptionError(f"--ids {ids}: only for a .npy import; a CSV names its images itself")
    else:
        emb = import_celeba_vis_csv(file, out, images, root=root, overwrite=overwrite)
    typer.echo(
        f"imported {len(emb)} embeddings of dimension {emb.dim} "
        f"({'unit-norm' if emb.normalised else 'not normalised'}) -> {out}"
    )
    unmatched = emb.info.data.unmatched
    if unmatched:
        typer.echo(f"note: {unmatched} of {len(emb)} images are not in the dataset at {root}; "
                   "their partition is unknown (-1)")  # fmt: skip


@app.command(
    "export", epilog=example("celebalab embed export emb/dlib --format celeba-vis --out dlib.csv")
)
@with_options(EmbeddingExportOptions)
def export_command(
    emb: Annotated[Path, typer.Argument(help="Embedding set folder.")],
    out: Annotated[Path, typer.Option("--out", help="CSV file to write.")],
    options: dict[str, Any],
    overwrite: Annotated[bool, typer.Option(help="Replace an existing --out file.")] = False,
) -> None:
    """Write an embedding set as a CelebA-Vis CSV (`embed import` reads it back)."""
    from celebalab.embeddings._export import export_celeba_vis

    EmbeddingExportOptions.from_dict(options, "the command line")  # one format so far
    export_celeba_vis(emb, out, overwrite=overwrite)
    typer.echo(f"wrote {out}")


@app.command(
    "extract", epilog=example("celebalab embed extract runs/id data/synth/CelebA --out emb/id")
)
@with_options(ExtractOptions)
def extract_command(
    run: Annotated[Path, typer.Argument(help="Run directory (identity or attribute model).")],
    root: Annotated[Path, typer.Argument(help="Dataset root (CelebA, CelebAMask-HQ, synthetic).")],
    out: Annotated[Path, typer.Option("--out", help="Embedding set folder to create/resume.")],
    options: dict[str, Any],
    overwrite: Annotated[bool, typer.Option(help="Replace an existing set in --out.")] = False,
    progress: Progress = True,
) -> None:
    """Extract one embedding set from any run (resumable: rerun the same command)."""
    from celebalab.embeddings.extract import extract_embeddings

    settings = ExtractOptions.from_dict(options, "the command line").to_dict()
    emb = extract_embeddings(run, root, out, overwrite=overwrite, **settings)
    skipped = len(emb.info.skipped or ())
    typer.echo(f"extracted {len(emb)} embeddings of dimension {emb.dim} ({skipped} unreadable "
               f"image(s) skipped) -> {out}")  # fmt: skip


@app.command("evaluate", epilog=example("celebalab embed evaluate emb/id --split test"))
@with_options(EvaluateOptions)
def evaluate_command(
    emb: Annotated[Path, typer.Argument(help="Embedding set folder.")],
    options: dict[str, Any],
    overwrite: Annotated[bool, typer.Option(help="Replace an earlier evaluation.")] = False,
) -> None:
    """Identification and verification metrics, beside pixel-PCA and attribute baselines."""
    from celebalab.embeddings.evaluate import COLUMNS, evaluate_embeddings, write_evaluation

    settings = EvaluateOptions.from_dict(options, "the command line").to_dict()
    result = evaluate_embeddings(emb, **settings)
    paths = write_evaluation(result, overwrite=overwrite)
    table = result.table[[c for c in COLUMNS if c in result.table.columns]]
    typer.echo(table.T.to_string(float_format=lambda v: f"{v:.4f}"))
    for note in result.notes:
        typer.echo(f"note: {note}")
    typer.echo(f"wrote {paths['html']}")
