"""``celebalab data synth``: write a synthetic CelebA + CelebAMask-HQ dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from celebalab.errors import CelebalabError


def _size(text: str) -> tuple[int, int]:
    width, sep, height = text.lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit():
        raise CelebalabError(f"--aligned-size {text!r}: expected WIDTHxHEIGHT, e.g. 178x218")
    return int(width), int(height)


def synth_command(
    out: Annotated[Path, typer.Argument(help="Output folder (gets CelebA/ and CelebAMask-HQ/).")],
    n: Annotated[int, typer.Option("--n", help="Number of CelebA images.")] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same bytes).")] = 0,
    n_hq: Annotated[
        int | None, typer.Option("--n-hq", help="Images also in CelebAMask-HQ [default: n].")
    ] = None,
    hq_size: Annotated[int, typer.Option("--hq-size", help="CelebA-HQ image side (px).")] = 256,
    mask_size: Annotated[
        int | None, typer.Option("--mask-size", help="Mask side (px) [default: hq size].")
    ] = None,
    aligned_size: Annotated[
        str, typer.Option("--aligned-size", help="Aligned CelebA size WIDTHxHEIGHT.")
    ] = "178x218",
    shortcut: Annotated[
        list[str] | None,
        typer.Option("--shortcut", help="ATTR:REGION spurious cue in train only (repeatable)."),
    ] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", help="Processes [default: CPU count].")
    ] = None,
    images_per_identity: Annotated[
        float, typer.Option("--images-per-identity", help="Faces per identity (CelebA: ~20).")
    ] = 20.0,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace a dataset data synth wrote in OUT.")
    ] = False,
    pairs: Annotated[
        str | None,
        typer.Option("--pairs", help="Counterfactual pairs for ATTR[,ATTR…] (one region changed)."),
    ] = None,
    pairs_per_attribute: Annotated[
        int, typer.Option("--pairs-per-attribute", help="Test images paired per attribute.")
    ] = 50,
) -> None:
    """Generate procedural faces with known attribute causes, in the official file formats."""
    from celebalab.datasets.synth._generate import generate

    result = generate(
        out,
        n,
        seed=seed,
        n_hq=n_hq,
        hq_size=hq_size,
        mask_size=mask_size,
        aligned_size=_size(aligned_size),
        shortcuts=shortcut or (),
        workers=workers,
        images_per_identity=images_per_identity,
        overwrite=overwrite,
        pairs=tuple(a.strip() for a in (pairs or "").split(",") if a.strip()),
        pairs_per_attribute=pairs_per_attribute,
    )
    parts = ", ".join(f"{k} {v}" for k, v in result.partition_counts.items())
    typer.echo(
        f"wrote {result.n} CelebA images ({parts}; {result.n_identities} identities) and "
        f"{result.n_hq} CelebAMask-HQ images to {result.out} in {result.seconds:.1f} s "
        f"({result.images_per_second:.0f} images/s)"
    )
    typer.echo(f"ground truth: {result.truth_json}")
