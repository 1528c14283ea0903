"""``celebalab explain RUN ROOT --out DIR``: regional validation of attribution methods."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from celebalab._help import example
from celebalab.cli_options import Progress, with_options
from celebalab.explain.config import ExplainConfig

_OUT = "Output"


@with_options(ExplainConfig)
def explain_command(
    run: Annotated[Path, typer.Argument(help="Run directory (celebalab train).")],
    root: Annotated[Path, typer.Argument(help="Dataset with masks: CelebAMask-HQ or synthetic.")],
    out: Annotated[
        Path,
        typer.Option("--out", help="Output folder (resumed if interrupted).", rich_help_panel=_OUT),
    ],
    options: dict[str, Any],
    fr_table: Annotated[
        Path | None,
        typer.Option(
            help="Your own FR per method: CSV 'method,fr'.", rich_help_panel="Measurement"
        ),
    ] = None,
    device: Annotated[
        str | None,
        typer.Option(help="cpu, cuda, cuda:N [default: auto].", rich_help_panel="Speed"),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option(help="Replace a non-empty --out.", rich_help_panel=_OUT)
    ] = False,
    progress: Progress = True,
) -> None:
    """Attributions of RUN's decisions scored against face-parsing masks; results + report."""
    from celebalab.explain.runner import run_explain

    config = ExplainConfig.from_dict(options, "the command line")
    result = run_explain(
        run, root, out, config=config, device=device, fr_table=fr_table, overwrite=overwrite
    )
    for method, stats in result.methods.items():
        p, fr = stats["regional_precision"], stats["falsification_rate"]
        typer.echo(
            f"{method:>10}: regional precision {p['mean']:.3f} [{p['ci_low']:.3f}, "
            f"{p['ci_high']:.3f}] (area {stats['area']['mean']:.3f}), FR {fr['mean']:.3f}, "
            f"n {p['n']}"
        )
    for skipped in result.skipped:
        if skipped["image_id"] == "-":  # a whole decision, not one image
            typer.echo(f"note: {skipped['reason']}")
    typer.echo(f"wrote {out / 'results.json'}, {out / 'per_image.parquet'}, {out / 'report.html'}")


def register(app: typer.Typer) -> None:
    """Add ``celebalab explain`` to the top-level app."""
    line = "celebalab explain runs/a data/synth/CelebA --out out/explain --attributes Eyeglasses"
    app.command("explain", epilog=example(line))(explain_command)
