"""CLI of the classifiers: ``celebalab train`` (here) plus ``evaluate``/``predict`` (cli_eval)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from celebalab._help import example
from celebalab.cli_options import Progress, with_options
from celebalab.models.config import TrainConfig

_OUTPUT = "Output"


@with_options(TrainConfig)
def train_command(
    root: Annotated[Path, typer.Argument(help="CelebA (official/Kaggle) or CelebAMask-HQ root.")],
    out: Annotated[
        Path,
        typer.Option("--out", help="Run directory to create (or resume).", rich_help_panel=_OUTPUT),
    ],
    options: dict[str, Any],
    resume: Annotated[
        bool,
        typer.Option(help="Continue the run in --out where it stopped.", rich_help_panel=_OUTPUT),
    ] = False,
    overwrite: Annotated[
        bool,
        typer.Option(
            help="Replace the run in a non-empty --out (its own files only, once the new "
            "one is complete).",
            rich_help_panel=_OUTPUT,
        ),
    ] = False,
    progress: Progress = True,
) -> None:
    """Train an attribute classifier into a self-describing run directory."""
    from celebalab.models._train import train

    run = train(root, out, resume=resume, overwrite=overwrite, **options)
    if run is None:  # a non-zero DDP rank
        return
    val, tr = run.val_metrics, run.training
    if run.task == "identity":
        auc, eer, map_r = (_figure(val.get(k)) for k in ("roc_auc", "eer", "map_at_r"))
        typer.echo(
            f"trained {run.arch} identity model ({run.embedding_dim}-d, "
            f"{tr.epochs_run} epochs, {tr.seconds:.0f} s): open-set val ROC AUC "
            f"{auc}, EER {eer}, mAP@R {map_r} -> {out}"
        )
        return
    typer.echo(
        f"trained {run.arch} on {run.task} ({tr.epochs_run} epochs, "
        f"{tr.seconds:.0f} s, {tr.images_per_second} img/s): val mean balanced accuracy "
        f"{val['mean_balanced_accuracy']:.4f} (tuned thresholds), "
        f"{val['mean_balanced_accuracy_at_0.5']:.4f} at 0.5; mean accuracy "
        f"{val['mean_accuracy']:.4f} (tuned), {val['mean_accuracy_at_0.5']:.4f} at 0.5 -> {out}"
    )


def _figure(value: float | None) -> str:
    """A metric for the summary line; undefined ones (null in run.json) say so."""
    return "undefined" if value is None else f"{value:.4f}"


def register(app: typer.Typer) -> None:
    """Add ``train`` (and, when present, ``evaluate``/``predict``) to the root CLI."""
    app.command(
        "train",
        epilog=example(
            "celebalab train data/synth/CelebA --arch small_cnn --size 64 --epochs 5 --out runs/a"
        ),
    )(train_command)
    try:
        from celebalab.models._cli_eval import register as register_eval
    except ImportError:
        return
    register_eval(app)
