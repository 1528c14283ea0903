"""``celebalab model import SOURCE --out RUN``: a pretrained model becomes a run folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from celebalab.cli_options import with_options
from celebalab.models.imported import ImportOptions

app = typer.Typer(no_args_is_help=True, add_completion=False)


@app.command("import")
@with_options(ImportOptions)
def import_command(
    source: Annotated[
        str,
        typer.Argument(
            help="'dlib' (dlib's pretrained face recogniser, installed with celebalab) or a local "
            "model file: ONNX (.onnx), TorchScript (torch.jit.save), torch.export (.pt2), or a "
            "state dict with --arch."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Run folder to write.")],
    options: dict[str, Any],
    overwrite: Annotated[
        bool, typer.Option(help="Replace an earlier import in --out (nothing else is touched).")
    ] = False,
) -> None:
    """Import a pretrained model as a run that embed, retrieve, explore and explain accept.

    Example: celebalab model import w600k_r50.onnx --preset arcface --out runs/arcface
    """
    from celebalab.models.imported import import_model
    from celebalab.models.records import ImportedRun
    from celebalab.models.run import load_run

    options = ImportOptions.from_dict(dict(options), "the command line")
    run_dir = import_model(source, out, options, overwrite=overwrite)
    run = load_run(run_dir)
    record = run.record
    assert isinstance(record, ImportedRun)
    what = (f"{record.embedding_dim}-d embedding" if run.task == "identity"
            else "40 attribute logits")  # fmt: skip
    typer.echo(f"{run_dir}: imported {record.source.format} model ({what}; "
               f"{run.face_prep.describe()})")  # fmt: skip
