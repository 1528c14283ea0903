"""CLI of face generation: ``celebalab gan train | sample | evaluate`` (a typer sub-app)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from celebalab._help import example
from celebalab.cli_options import with_options
from celebalab.generate.config import GanConfig
from celebalab.generate.options import GanEvaluateOptions, SampleOptions, parse_attrs

app = typer.Typer(no_args_is_help=True, help="Train, sample and evaluate face GANs (DCGAN).")


_OUTPUT, _TRAINING = "Output", "Training"


@app.command(
    "train", epilog=example("celebalab gan train data/synth/CelebA --out runs/gan --epochs 10")
)
@with_options(GanConfig)
def train_command(
    root: Annotated[Path, typer.Argument(help="CelebA (official/Kaggle) or CelebAMask-HQ root.")],
    out: Annotated[
        Path,
        typer.Option("--out", help="Run directory to create (or resume).", rich_help_panel=_OUTPUT),
    ],
    options: dict[str, Any],
    max_steps: Annotated[
        int | None,
        typer.Option(
            help="Stop (resumable) after this many steps in all.", rich_help_panel=_TRAINING
        ),
    ] = None,
    minutes: Annotated[
        float | None,
        typer.Option(
            help="Wall-clock budget: end the run (finished) once it has run this long.",
            rich_help_panel=_TRAINING,
        ),
    ] = None,
    resume: Annotated[
        bool, typer.Option(help="Continue the run in --out exactly.", rich_help_panel=_OUTPUT)
    ] = False,
    overwrite: Annotated[
        bool,
        typer.Option(
            help="Replace the run in a non-empty --out (its own files only, once the new one is "
            "complete).",
            rich_help_panel=_OUTPUT,
        ),
    ] = False,
) -> None:
    """Train a DCGAN on the training split; several GPUs: launch with torchrun (DDP)."""
    from celebalab.generate.train import resume_config, train_gan

    config = resume_config(out, **options) if resume else GanConfig(**options)
    budget = None if minutes is None else minutes * 60
    run = train_gan(root, out, config, resume=resume, overwrite=overwrite, max_steps=max_steps,
                    max_seconds=budget)  # fmt: skip
    if run is not None and os.environ.get("RANK", "0") == "0":  # torchrun: rank 0 reports
        t = run.training
        typer.echo(f"{out}: {t.steps} steps in {t.seconds:.0f} s "
                   f"({t.images_per_second} img/s); report {out / 'report.html'}")  # fmt: skip
        for warning in run.warnings[-3:]:
            typer.echo(f"warning: {warning['message']}")


@app.command(
    "sample", epilog=example("celebalab gan sample runs/gan --n 64 --out grid.png --seed 1")
)
@with_options(SampleOptions)
def sample_command(
    run: Annotated[Path, typer.Argument(help="A finished GAN run directory.")],
    out: Annotated[Path, typer.Option("--out", help="Grid PNG to write.")],
    options: dict[str, Any],
    each: Annotated[Path | None, typer.Option(help="Also write one PNG per face here.")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace existing files.")] = False,
) -> None:
    """Draw faces from a trained generator (EMA weights)."""
    from celebalab.generate.run import load_gan_run
    from celebalab.generate.sample import (
        check_grid_path,
        fit_output,
        sample_images,
        write_samples,
    )

    o = SampleOptions.from_dict(options, "the command line")
    check_grid_path(out, overwrite)
    gan = load_gan_run(run)
    images = sample_images(gan, o.n, seed=o.seed, attrs=parse_attrs(o.attrs))
    notes = write_samples(images, out, each, upscale=o.upscale, overwrite=overwrite)
    upscale = fit_output(o.n, gan.image_size, o.upscale)[1]
    scaled = f", upscaled {upscale}× bicubic" if upscale > 1 else ""
    typer.echo(f"{out}: {o.n} faces at {gan.image_size} px{scaled}")
    for note in notes:
        typer.echo(f"note: {note}")


@app.command("evaluate", epilog=example("celebalab gan evaluate runs/gan --classifier runs/a"))
@with_options(GanEvaluateOptions)
def evaluate_command(
    run: Annotated[Path, typer.Argument(help="A finished GAN run directory.")],
    classifier: Annotated[
        Path, typer.Option(help="celebalab classifier run whose features define the metrics.")
    ],
    options: dict[str, Any],
    overwrite: Annotated[bool, typer.Option(help="Replace RUN/eval.")] = False,
) -> None:
    """FID/KID (Inception with --inception, else classifier features), PR, memorisation."""
    from celebalab.generate._report import metric_table
    from celebalab.generate.evaluate import evaluate_gan

    o = GanEvaluateOptions.from_dict(options, "the command line")
    result = evaluate_gan(run, classifier, root=o.root, n=o.n, seed=o.seed,
                          inception_weights=o.inception, overwrite=overwrite)  # fmt: skip
    typer.echo(metric_table(result).to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    ratio = result.memorisation.ratio
    typer.echo(f"nearest-training distance ratio (generated / held-out): {ratio:.3g}")
    if result.conditional and result.conditional.note:
        typer.echo(f"note: {result.conditional.note}")
    typer.echo(f"report: {run / 'eval' / 'report.html'}")
