"""CLI of face generation: ``celebalab gan train | sample | evaluate`` (a typer sub-app)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from celebalab._help import example, grouped

app = typer.Typer(no_args_is_help=True, help="Train, sample and evaluate face GANs (DCGAN).")


def _names(text: str | None, option: str) -> tuple[str, ...] | None:
    """Comma-separated names; None when the option is absent, an error when it names none
    (``--conditional ''`` must not quietly train an unconditional model)."""
    from celebalab.errors import OptionError

    if text is None:
        return None
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise OptionError(f"{option} {text!r}: no attribute named; leave the option out instead")
    return names


def _augment(text: str | None) -> tuple[str, ...] | None:
    """``--augment``: comma-separated transform names, or ``none``."""
    if text is None or text.strip().lower() != "none":
        return _names(text, "--augment")
    return ()


@app.command(
    "train", epilog=example("celebalab gan train data/synth/CelebA --out runs/gan --epochs 10")
)
@grouped(
    {
        "Data": "crop conditional",
        "Model": "size loss spectral_norm",
        "Training": "epochs minutes lr augment seed max_steps",
        "Output": "out resume overwrite checkpoint_every progress",
        "Speed": "batch_size precision threads",
    }
)
def train_command(
    root: Annotated[Path, typer.Argument(help="CelebA (official/Kaggle) or CelebAMask-HQ root.")],
    out: Annotated[Path, typer.Option("--out", help="Run directory to create (or resume).")],
    size: Annotated[
        int | None, typer.Option(help="32: a small DCGAN pair (default); 64: standard DCGAN.")
    ] = None,
    epochs: Annotated[int | None, typer.Option(help="Epochs over the training split (10).")] = None,
    conditional: Annotated[
        str | None, typer.Option(help="Attributes to condition on, e.g. Smiling,Male,Eyeglasses.")
    ] = None,
    crop: Annotated[str | None, typer.Option(help="'center' (default) or 'none'.")] = None,
    batch_size: Annotated[
        int | None, typer.Option(help="Images per step and process (128).")
    ] = None,
    lr: Annotated[float | None, typer.Option(help="Adam learning rate of both networks.")] = None,
    loss: Annotated[
        str | None, typer.Option(help="'bce' (non-saturating, default) or 'hinge'.")
    ] = None,
    augment: Annotated[
        str | None,
        typer.Option(
            help="DiffAugment transforms of every discriminator input: color, translation, "
            "cutout (comma-separated) or none."
        ),
    ] = None,
    spectral_norm: Annotated[
        bool | None,
        typer.Option(
            "--spectral-norm/--no-spectral-norm",
            help="Spectrally normalised discriminator (no BatchNorm).",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of init, batch order and noise.")] = None,
    precision: Annotated[
        str | None,
        typer.Option(
            help="auto (GPU: bf16/16-mixed; CPU: bf16 if native, else 32), 32, 16-mixed, bf16-mixed"
        ),
    ] = None,
    checkpoint_every: Annotated[int | None, typer.Option(help="Steps between checkpoints.")] = None,
    max_steps: Annotated[
        int | None, typer.Option(help="Stop (resumable) after this many steps in all.")
    ] = None,
    minutes: Annotated[
        float | None,
        typer.Option(help="Wall-clock budget: end the run (finished) once it has run this long."),
    ] = None,
    threads: Annotated[int | None, typer.Option(help="CPU threads (default: all cores).")] = None,
    resume: Annotated[bool, typer.Option(help="Continue the run in --out exactly.")] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace the run in a non-empty --out.")] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Train a DCGAN on the training split; several GPUs: launch with torchrun (DDP)."""
    from celebalab.generate.config import GanConfig
    from celebalab.generate.train import resume_config, train_gan

    given = {
        "size": size, "epochs": epochs, "conditional": _names(conditional, "--conditional"),
        "crop": crop, "batch_size": batch_size, "lr": lr, "loss": loss, "seed": seed,
        "augment": _augment(augment), "spectral_norm": spectral_norm,
        "precision": precision, "checkpoint_every": checkpoint_every, "threads": threads,
        "progress": progress,
    }  # fmt: skip
    if resume:
        config = resume_config(out, **given)
    else:
        config = GanConfig(**{k: v for k, v in given.items() if v is not None})
    budget = None if minutes is None else minutes * 60
    info = train_gan(root, out, config, resume=resume, overwrite=overwrite, max_steps=max_steps,
                     max_seconds=budget)  # fmt: skip
    if info is not None and os.environ.get("RANK", "0") == "0":  # torchrun: rank 0 reports
        t = info["training"]
        typer.echo(f"{out}: {t['steps']} steps in {t['seconds']:.0f} s "
                   f"({t['images_per_second']} img/s); report {out / 'report.html'}")  # fmt: skip
        for warning in info["warnings"][-3:]:
            typer.echo(f"warning: {warning['message']}")


@app.command(
    "sample", epilog=example("celebalab gan sample runs/gan --n 64 --out grid.png --seed 1")
)
def sample_command(
    run: Annotated[Path, typer.Argument(help="A finished GAN run directory.")],
    out: Annotated[Path, typer.Option("--out", help="Grid PNG to write.")],
    n: Annotated[int, typer.Option("--n", help="Number of faces.")] = 64,
    seed: Annotated[int, typer.Option(help="Noise seed: same seed, same faces.")] = 0,
    attrs: Annotated[
        str | None, typer.Option(help="Conditioned attributes, e.g. Smiling=1,Male=0.")
    ] = None,
    each: Annotated[Path | None, typer.Option(help="Also write one PNG per face here.")] = None,
    upscale: Annotated[
        int, typer.Option(help="Bicubic enlargement factor (adds pixels, not detail).")
    ] = 1,
    overwrite: Annotated[bool, typer.Option(help="Replace existing files.")] = False,
) -> None:
    """Draw faces from a trained generator (EMA weights)."""
    from celebalab.generate.run import load_gan_run
    from celebalab.generate.sample import (
        check_grid_path,
        fit_output,
        parse_attrs,
        sample_images,
        write_samples,
    )

    if upscale < 1:
        raise typer.BadParameter("--upscale must be at least 1")
    check_grid_path(out, overwrite)
    gan = load_gan_run(run)
    images = sample_images(gan, n, seed=seed, attrs=parse_attrs(attrs))
    notes = write_samples(images, out, each, upscale=upscale, overwrite=overwrite)
    upscale = fit_output(n, gan.image_size, upscale)[1]
    scaled = f", upscaled {upscale}× bicubic" if upscale > 1 else ""
    typer.echo(f"{out}: {n} faces at {gan.image_size} px{scaled}")
    for note in notes:
        typer.echo(f"note: {note}")


@app.command("evaluate", epilog=example("celebalab gan evaluate runs/gan --classifier runs/a"))
def evaluate_command(
    run: Annotated[Path, typer.Argument(help="A finished GAN run directory.")],
    classifier: Annotated[
        Path, typer.Option(help="celebalab classifier run whose features define the metrics.")
    ],
    inception: Annotated[
        Path | None,
        typer.Option(help="Local Inception weights for true FID/KID (never downloaded)."),
    ] = None,
    root: Annotated[
        Path | None, typer.Option(help="Dataset root (default: the training one).")
    ] = None,
    n: Annotated[
        int, typer.Option("--n", help="Samples per set (capped at half the train split).")
    ] = 2000,
    seed: Annotated[int, typer.Option(help="Seed of the samples and subsets.")] = 0,
    overwrite: Annotated[bool, typer.Option(help="Replace RUN/eval.")] = False,
) -> None:
    """FID/KID (Inception with --inception, else classifier features), PR, memorisation."""
    from celebalab.generate.evaluate import evaluate_gan
    from celebalab.generate.report import metric_table

    result = evaluate_gan(run, classifier, root=root, n=n, seed=seed,
                          inception_weights=inception, overwrite=overwrite)  # fmt: skip
    typer.echo(metric_table(result).to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    memo = result["memorisation"]
    typer.echo(f"nearest-training distance ratio (generated / held-out): {memo['ratio']:.3g}")
    note = result.get("conditional", {}).get("note")
    if note:
        typer.echo(f"note: {note}")
    typer.echo(f"report: {run / 'eval' / 'report.html'}")
