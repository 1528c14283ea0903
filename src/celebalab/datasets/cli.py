"""``celebalab data …``: read, verify, synthesise and pack datasets.

``verify``, ``info`` and ``pack`` live here (their options: :mod:`celebalab.datasets.config`);
``synth`` is registered from its own module when that is installed, so a missing optional part
never breaks the CLI.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from celebalab._help import example
from celebalab.cli_options import Progress, with_options
from celebalab.datasets.config import PackOptions, VerifyOptions

app = typer.Typer(no_args_is_help=True, help="Read, verify, synthesise and pack datasets.")


@app.command(
    "verify", epilog=example("celebalab data verify ~/datasets/celeba --json problems.json")
)
@with_options(VerifyOptions)
def verify_command(
    root: Annotated[Path, typer.Argument(help="Dataset folder (CelebA or CelebAMask-HQ).")],
    options: dict[str, Any],
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Also write the report here.")
    ] = None,
    progress: Progress = True,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing --json file.")] = False,
) -> None:
    """Check a copy: layout, annotation files, missing/extra/unreadable images, masks.

    Exit status 0 when clean, 1 when problems were found (2 for a usage error).
    """
    from celebalab.datasets.verify import print_report, verify_dataset
    from celebalab.io import check_output_file, write_json_atomic

    settings = VerifyOptions.from_dict(options, "the command line")
    if json_path is not None:
        check_output_file(json_path, "--json", overwrite)
    report = verify_dataset(root, **settings.to_dict())
    print_report(report)
    if json_path is not None:
        write_json_atomic(json_path, report.to_dict())
    raise typer.Exit(0 if report.ok else 1)


@app.command("info", epilog=example("celebalab data info ~/datasets/celeba"))
def info_command(
    root: Annotated[Path, typer.Argument(help="Dataset folder (CelebA or CelebAMask-HQ).")],
) -> None:
    """Print a short summary: layout, counts, partitions, identities, image size, attributes."""
    from celebalab.datasets.verify import dataset_info, print_info

    print_info(dataset_info(root))


try:
    from celebalab.datasets.synth.cli_command import synth_command
except ImportError:
    pass
else:
    app.command("synth", epilog=example("celebalab data synth data/synth --n 2000 --seed 0"))(
        synth_command
    )


@app.command("pack", epilog=example("celebalab data pack data/synth/CelebA --size 64"))
@with_options(PackOptions)
def pack_command(
    root: Annotated[Path, typer.Argument(help="CelebA (official/Kaggle) or CelebAMask-HQ root.")],
    options: dict[str, Any],
) -> None:
    """Decode every present image once into a uint8 memmap cache (resumable; metadata order)."""
    from celebalab.datasets.packed import LISTED_CORRUPT, pack_images

    settings = PackOptions.from_dict(options, "the command line")
    result = pack_images(root, **settings.to_dict())
    size, crop = settings.size, settings.crop
    if result.reused:
        typer.echo(f"up to date: {result.path} ({result.stored:,} rows, {size}px, crop={crop})")
    else:
        typer.echo(
            f"packed {result.stored:,} rows ({size}px, crop={crop}) in {result.seconds:.1f} s, "
            f"{result.images_per_second:.0f} images/s -> {result.path}"
        )
    if result.corrupt:
        typer.echo(f"{len(result.corrupt):,} unreadable image(s) skipped (valid=False):")
        for bad in result.corrupt[:LISTED_CORRUPT]:
            typer.echo(f"  {bad['image_id']}: {bad['reason']}")
        if len(result.corrupt) > LISTED_CORRUPT:
            typer.echo(f"  … and {len(result.corrupt) - LISTED_CORRUPT:,} more "
                       f"(listed in {result.manifest_path})")  # fmt: skip
