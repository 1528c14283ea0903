"""``celebalab data synth``: write a synthetic CelebA + CelebAMask-HQ dataset."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Annotated, Any

import typer

from celebalab.cli_options import with_options
from celebalab.datasets.synth.config import SynthOptions

#: ``--shortcut`` is repeatable, so the command declares it; its help is the option's.
_SHORTCUT_HELP = next(f for f in fields(SynthOptions) if f.name == "shortcuts").metadata["help"]


@with_options(SynthOptions)
def synth_command(
    out: Annotated[Path, typer.Argument(help="Output folder (gets CelebA/ and CelebAMask-HQ/).")],
    options: dict[str, Any],
    shortcut: Annotated[list[str] | None, typer.Option("--shortcut", help=_SHORTCUT_HELP)] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace a dataset data synth wrote in OUT.")
    ] = False,
) -> None:
    """Generate procedural faces with known attribute causes, in the official file formats."""
    from celebalab.datasets.synth._generate import generate

    settings = SynthOptions.from_dict({**options, "shortcuts": shortcut or ()}, "the command line")
    result = generate(out, overwrite=overwrite, **settings.to_dict())
    parts = ", ".join(f"{k} {v}" for k, v in result.partition_counts.items())
    typer.echo(
        f"wrote {result.n} CelebA images ({parts}; {result.n_identities} identities) and "
        f"{result.n_hq} CelebAMask-HQ images to {result.out} in {result.seconds:.1f} s "
        f"({result.images_per_second:.0f} images/s)"
    )
    typer.echo(f"ground truth: {result.truth_json}")
