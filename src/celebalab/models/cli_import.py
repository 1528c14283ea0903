"""``celebalab model import SOURCE --out RUN``: a pretrained model becomes a run folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False)

_PREPROCESS = "Preprocessing"


def _numbers(text: str | None, option: str) -> tuple[float, ...] | None:
    from celebalab.errors import OptionError

    if text is None:
        return None
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise OptionError(f"{option} takes numbers separated by commas, not {text!r}") from None


@app.command("import")
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
    kind: Annotated[
        str,
        typer.Option(help="'identity' (image → embedding) or 'attributes' (image → 40 logits)."),
    ] = "identity",
    preset: Annotated[
        str | None,
        typer.Option(
            help="'arcface': InsightFace recognisers (112 px, (x − 127.5) / 127.5, RGB, ArcFace "
            "five-point alignment).",
            rich_help_panel=_PREPROCESS,
        ),
    ] = None,
    input_size: Annotated[
        int | None,
        typer.Option(help="Square input side in px (read from the file when it fixes one).",
                     rich_help_panel=_PREPROCESS),
    ] = None,
    mean: Annotated[
        str | None,
        typer.Option(help="Per-channel mean on the 0–255 scale, e.g. 127.5 or 123.7,116.3,103.5.",
                     rich_help_panel=_PREPROCESS),
    ] = None,
    std: Annotated[
        str | None,
        typer.Option(help="Per-channel std on the 0–255 scale (input = (pixel − mean) / std).",
                     rich_help_panel=_PREPROCESS),
    ] = None,
    channels: Annotated[
        str | None, typer.Option(help="'rgb' or 'bgr'.", rich_help_panel=_PREPROCESS)
    ] = None,
    alignment: Annotated[
        str | None,
        typer.Option(
            help="'arcface' (five-point template), 'crop-center' (central square of CelebA's "
            "aligned image, the default) or 'crop-none' (whole image).",
            rich_help_panel=_PREPROCESS,
        ),
    ] = None,
    arch: Annotated[
        str | None, typer.Option(help="Network of a state dict (small_cnn, resnet18, …).")
    ] = None,
    licence: Annotated[
        str, typer.Option(help="Licence note recorded in run.json (who may use the weights).")
    ] = "",
    overwrite: Annotated[
        bool, typer.Option(help="Replace an earlier import in --out (nothing else is touched).")
    ] = False,
) -> None:
    """Import a pretrained model as a run that embed, retrieve, explore and explain accept.

    Example: celebalab model import w600k_r50.onnx --preset arcface --out runs/arcface
    """
    from celebalab.models.imported import ImportOptions, import_model
    from celebalab.models.records import ImportedRun
    from celebalab.models.run import load_run

    options = ImportOptions(
        kind=kind, preset=preset, input_size=input_size, mean=_numbers(mean, "--mean"),
        std=_numbers(std, "--std"), channels=channels, alignment=alignment, arch=arch,
        licence=licence,
    )  # fmt: skip
    run_dir = import_model(source, out, options, overwrite=overwrite)
    run = load_run(run_dir)
    record = run.record
    assert isinstance(record, ImportedRun)
    what = (f"{record.embedding_dim}-d embedding" if run.task == "identity"
            else "40 attribute logits")  # fmt: skip
    typer.echo(f"{run_dir}: imported {record.source.format} model ({what}; "
               f"{run.face_prep.describe()})")  # fmt: skip
