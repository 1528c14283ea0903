"""CLI of the classifiers: ``celebalab train`` (here) plus ``evaluate``/``predict`` (cli_eval)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from celebalab._help import example, grouped
from celebalab.models import ARCHITECTURES


def train_command(
    root: Annotated[Path, typer.Argument(help="CelebA (official/Kaggle) or CelebAMask-HQ root.")],
    out: Annotated[Path, typer.Option("--out", help="Run directory to create (or resume).")],
    task: Annotated[
        str | None,
        typer.Option(
            help="'attributes' (all 40, multi-label), one attribute (e.g. Smiling), or "
            "'identity' (face recognition: an L2-normalised embedding, margin loss)."
        ),
    ] = None,
    arch: Annotated[str | None, typer.Option(help=f"One of {', '.join(ARCHITECTURES)}.")] = None,
    size: Annotated[int | None, typer.Option(help="Image side in px (default 128).")] = None,
    crop: Annotated[
        str | None,
        typer.Option(help="'center': central square (default); 'none': whole image squeezed."),
    ] = None,
    epochs: Annotated[int | None, typer.Option(help="Maximum epochs (default 10).")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Images per device step (128).")] = None,
    devices: Annotated[
        str | None, typer.Option(help="GPU count or ids '0,1'; >1 trains with DDP.")
    ] = None,
    precision: Annotated[
        str | None,
        typer.Option(help="32-true, 16-mixed (GPU), bf16-mixed; default: mixed on GPU, 32 on CPU."),
    ] = None,
    weights: Annotated[
        Path | None, typer.Option(help="Local pretrained state dict (nothing is downloaded).")
    ] = None,
    resume: Annotated[
        bool, typer.Option(help="Continue the run in --out where it stopped.")
    ] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace the run in a non-empty --out.")] = False,
    lr: Annotated[float | None, typer.Option(help="AdamW learning rate (3e-3).")] = None,
    loss: Annotated[str | None, typer.Option(help="'bce' (default) or 'focal'.")] = None,
    pos_weight: Annotated[
        bool | None,
        typer.Option(
            "--pos-weight/--no-pos-weight",
            help="Weight positives by neg/pos (on); --no-pos-weight: plain BCE, as in papers.",
        ),
    ] = None,
    focal_gamma: Annotated[float | None, typer.Option(help="Focal loss gamma (2.0).")] = None,
    patience: Annotated[
        int | None, typer.Option(help="Early stopping: epochs without val-loss gain (3).")
    ] = None,
    threshold_metric: Annotated[
        str | None,
        typer.Option(
            help="What per-attribute thresholds maximise on val: balanced_accuracy (default), "
            "f1 or accuracy."
        ),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of init, shuffling, augmentation.")] = None,
    augment: Annotated[
        bool | None, typer.Option("--augment/--no-augment", help="Flip + crop augmentation (off).")
    ] = None,
    checkpoint_every: Annotated[
        int | None, typer.Option(help="Also checkpoint every N steps, for mid-epoch resume (50).")
    ] = None,
    embedding_dim: Annotated[
        int | None, typer.Option(help="--task identity: embedding size (128).")
    ] = None,
    identity_loss: Annotated[
        str | None, typer.Option(help="--task identity: arcface (default) or cosface.")
    ] = None,
    margin: Annotated[
        float | None, typer.Option(help="Margin: ArcFace radians (0.5), CosFace cosine (0.35).")
    ] = None,
    scale: Annotated[float | None, typer.Option(help="Margin-loss logit scale (30).")] = None,
    workers: Annotated[
        int | None, typer.Option(help="DataLoader workers (default: 0 packed, a few for files).")
    ] = None,
    threads: Annotated[
        int | None, typer.Option(help="CPU threads for torch (default: all cores).")
    ] = None,
    pack: Annotated[
        bool, typer.Option("--pack/--no-pack", help="Build the packed cache when missing.")
    ] = True,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Progress bar.")
    ] = True,
) -> None:
    """Train an attribute classifier into a self-describing run directory."""
    from celebalab.models.train import train

    result = train(
        root, out, resume=resume, overwrite=overwrite, progress=progress,
        task=task, arch=arch, size=size, crop=crop, epochs=epochs, batch_size=batch_size,
        devices=devices, precision=precision, weights=weights, lr=lr, loss=loss,
        pos_weight=pos_weight, focal_gamma=focal_gamma, patience=patience,
        threshold_metric=threshold_metric, seed=seed, augment=augment,
        checkpoint_every=checkpoint_every, workers=workers, threads=threads, pack=pack,
        embedding_dim=embedding_dim, identity_loss=identity_loss, margin=margin, scale=scale,
    )  # fmt: skip
    if not result:  # a non-zero DDP rank
        return
    val, tr = result["metrics"]["val"], result["training"]
    if result["task"] == "identity":
        auc, eer, map_r = (_figure(val.get(k)) for k in ("roc_auc", "eer", "map_at_r"))
        typer.echo(
            f"trained {result['arch']} identity model ({result['embedding_dim']}-d, "
            f"{tr['epochs_run']} epochs, {tr['seconds']:.0f} s): open-set val ROC AUC "
            f"{auc}, EER {eer}, mAP@R {map_r} -> {out}"
        )
        return
    typer.echo(
        f"trained {result['arch']} on {result['task']} ({tr['epochs_run']} epochs, "
        f"{tr['seconds']:.0f} s, {tr['images_per_second']} img/s): val mean balanced accuracy "
        f"{val['mean_balanced_accuracy']:.4f} (tuned thresholds), "
        f"{val['mean_balanced_accuracy_at_0.5']:.4f} at 0.5; mean accuracy "
        f"{val['mean_accuracy']:.4f} (tuned), {val['mean_accuracy_at_0.5']:.4f} at 0.5 -> {out}"
    )


def _figure(value: float | None) -> str:
    """A metric for the summary line; undefined ones (null in run.json) say so."""
    return "undefined" if value is None else f"{value:.4f}"


_TRAIN_GROUPS = grouped(
    {
        "Data": "size crop augment pack",
        "Model": "task arch weights embedding_dim identity_loss margin scale",
        "Training": "epochs lr loss pos_weight focal_gamma patience threshold_metric seed",
        "Output": "out resume overwrite checkpoint_every progress",
        "Speed": "batch_size devices precision workers threads",
    }
)


def register(app: typer.Typer) -> None:
    """Add ``train`` (and, when present, ``evaluate``/``predict``) to the root CLI."""
    app.command(
        "train",
        epilog=example(
            "celebalab train data/synth/CelebA --arch small_cnn --size 64 --epochs 5 --out runs/a"
        ),
    )(_TRAIN_GROUPS(train_command))
    try:
        from celebalab.models.cli_eval import register as register_eval
    except ImportError:
        return
    register_eval(app)
