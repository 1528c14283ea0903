"""CLI group ``celebalab embed``: import, extract and evaluate embedding sets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True, help="Face embeddings: import, extract, evaluate.")


@app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="CelebA-Vis CSV (celeba_buffalo_*.csv) or .npy.")],
    out: Annotated[Path, typer.Option("--out", help="Embedding set folder to create.")],
    images: Annotated[
        Path | None, typer.Option(help="Folder holding the image files (for viewers).")
    ] = None,
    ids: Annotated[
        Path | None, typer.Option(help="For .npy: id list, one 'image_id [identity]' per line.")
    ] = None,
    root: Annotated[
        Path | None, typer.Option(help="CelebA copy: partition (and missing labels) from it.")
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing set in --out.")] = False,
) -> None:
    """Import embeddings users already have into an embedding set."""
    from celebalab.embeddings.importers import import_celeba_vis_csv, import_npy
    from celebalab.errors import CelebalabError

    if file.suffix.lower() == ".npy":
        if ids is None:
            raise CelebalabError(f"{file}: a .npy import needs --ids FILE (one image id per line)")
        emb = import_npy(file, ids, out, images, root=root, overwrite=overwrite)
    else:
        emb = import_celeba_vis_csv(file, out, images, root=root, overwrite=overwrite)
    typer.echo(
        f"imported {len(emb)} embeddings of dimension {emb.dim} "
        f"({'unit-norm' if emb.normalised else 'not normalised'}) -> {out}"
    )
