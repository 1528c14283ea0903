"""``celebalab data …``: read, verify, synthesise and pack datasets.

``verify`` and ``info`` live here; ``pack`` comes from :mod:`celebalab.datasets.packed`, and
``synth`` is registered from its own module when that is installed, so a missing optional part
never breaks the CLI.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from celebalab._help import example
from celebalab.cli_options import Progress
from celebalab.datasets.packed import pack_command

app = typer.Typer(no_args_is_help=True, help="Read, verify, synthesise and pack datasets.")


@app.command(
    "verify", epilog=example("celebalab data verify ~/datasets/celeba --json problems.json")
)
def verify_command(
    root: Annotated[Path, typer.Argument(help="Dataset folder (CelebA or CelebAMask-HQ).")],
    sample: Annotated[
        int | None, typer.Option(help="Decode only N randomly chosen images (and their masks).")
    ] = None,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Also write the report here.")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Processes for decoding (default: all cores).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the --sample draw.")] = 0,
    max_listed: Annotated[int, typer.Option(help="Problems listed per category.")] = 20,
    progress: Progress = True,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing --json file.")] = False,
) -> None:
    """Check a copy: layout, annotation files, missing/extra/unreadable images, masks.

    Exit status 0 when clean, 1 when problems were found (2 for a usage error).
    """
    from celebalab.datasets.verify import print_report, verify_dataset
    from celebalab.io import check_output_file, write_json_atomic

    if json_path is not None:
        check_output_file(json_path, "--json", overwrite)
    report = verify_dataset(root, sample, workers, seed, max_listed=max_listed)
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

app.command("pack", epilog=example("celebalab data pack data/synth/CelebA --size 64"))(pack_command)
