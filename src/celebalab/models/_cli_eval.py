"""CLI commands ``celebalab evaluate`` and ``celebalab predict`` (registered by ``models/cli.py``).

Heavy imports (torch, the model code) happen inside the commands so that ``celebalab --help``
stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from celebalab._help import example
from celebalab.cli_options import with_options
from celebalab.models.config import EvaluateRunOptions, PredictOptions

if TYPE_CHECKING:
    import pandas as pd

    from celebalab.models._eval_result import EvaluationResult

_EXIT_SOME_UNREADABLE = 1


def register(app: typer.Typer) -> None:
    """Add the ``evaluate`` and ``predict`` commands to ``app``."""
    app.command("evaluate", epilog=example("celebalab evaluate runs/a --split test"))(
        evaluate_command
    )
    app.command("predict", epilog=example("celebalab predict runs/a faces/ --csv predictions.csv"))(
        predict_command
    )


@with_options(EvaluateRunOptions)
def evaluate_command(
    run_dir: Annotated[Path, typer.Argument(help="Run directory written by `celebalab train`.")],
    options: dict[str, Any],
    overwrite: Annotated[
        bool, typer.Option(help="Replace an earlier evaluation in RUN_DIR/eval_SPLIT/.")
    ] = False,
) -> None:
    """Per-attribute metrics with majority-class baselines → RUN_DIR/eval_SPLIT/ (+ report)."""
    from celebalab.models.evaluate import evaluate_run

    settings = EvaluateRunOptions.from_dict(options, "the command line")
    result = evaluate_run(run_dir, **settings.to_dict(), overwrite=overwrite)
    _print_headline(result)
    for note in result.notes:
        typer.echo(f"note: {note}", err=True)
    if result.skipped_images:
        typer.echo(f"note: {len(result.skipped_images)} unreadable image(s) left out "
                   "(listed in metrics.json)", err=True)  # fmt: skip
    typer.echo(f"wrote {result.out_dir}/ (metrics.csv, metrics.json, confusion.csv, "
               "predictions.parquet, report.html)")  # fmt: skip


@with_options(PredictOptions)
def predict_command(
    run_dir: Annotated[Path, typer.Argument(help="Run directory written by `celebalab train`.")],
    images: Annotated[
        list[Path], typer.Argument(help="Image files and/or folders (searched recursively).")
    ],
    options: dict[str, Any],
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write all probabilities as JSON here.")
    ] = None,
    csv_path: Annotated[
        Path | None, typer.Option("--csv", help="Write all probabilities as CSV here.")
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace existing --json / --csv files.")] = False,
) -> None:
    """Attribute probabilities for face images: aligned CelebA images or photos (faces found).

    Unreadable files are listed and skipped (exit status 1).

    If none is readable, nothing is written (exit status 2).
    """
    from celebalab.io import check_output_file, write_json_atomic, write_text_atomic
    from celebalab.models.predict import predict_paths, predictions_json

    o = PredictOptions.from_dict(options, "the command line")
    for option, path in (("--json", json_path), ("--csv", csv_path)):
        if path is not None:
            check_output_file(path, option, overwrite)
    frame = predict_paths(run_dir, images, batch_size=o.batch_size, device=o.device,
                          workers=o.workers, detect=o.align)  # fmt: skip
    _print_predictions(frame, o.top, o.max_rows)
    for note in frame.attrs["notes"]:
        typer.echo(f"note: {note['path']}: {note['note']}", err=True)
    if json_path is not None:
        write_json_atomic(json_path, predictions_json(frame))
        typer.echo(f"wrote {json_path}")
    if csv_path is not None:
        write_text_atomic(csv_path, frame.to_csv(index=False, float_format="%.6g"))
        typer.echo(f"wrote {csv_path}")
    failures = frame.attrs["failures"]
    if failures:
        typer.echo(f"{len(failures)} file(s) could not be read and were skipped:", err=True)
        for failure in failures:
            typer.echo(f"  {failure['path']}: {failure['reason']}", err=True)
        raise typer.Exit(_EXIT_SOME_UNREADABLE)


def _print_headline(result: EvaluationResult) -> None:
    from rich.console import Console
    from rich.table import Table

    from celebalab.models.eval_report import AT_HALF_TEXT, HEADLINE_LABELS, format_metric

    h = result.headline
    table = Table(title=f"{result.split} split, {h['images']:,} images")
    for col in ("metric", "model", "majority baseline", "attributes"):
        table.add_column(col, justify="left" if col == "metric" else "right")
    for key, label in HEADLINE_LABELS.items():
        table.add_row(label, format_metric(h[key]), format_metric(h[f"baseline_{key}"]),
                      f"{h[f'{key}_attributes']}/{h['attributes']}")  # fmt: skip
    Console().print(table)
    typer.echo(
        f"{AT_HALF_TEXT}: mean accuracy {format_metric(h['mean_accuracy_at_0.5'])}, "
        f"mean balanced accuracy {format_metric(h['mean_balanced_accuracy_at_0.5'])}"
    )
    if result.groups is not None:
        g = Table(title="synthetic data: mean balanced accuracy by attribute group")
        for col in ("group", "attributes", "model", "majority baseline"):
            g.add_column(col, justify="left" if col == "group" else "right")
        for name, row in result.groups.iterrows():
            g.add_row(str(name), str(int(row["attributes"])),
                      format_metric(row["balanced_accuracy"]),
                      format_metric(row["baseline_balanced_accuracy"]))  # fmt: skip
        Console().print(g)


def _print_predictions(frame: pd.DataFrame, top: int, max_rows: int) -> None:
    from rich.console import Console
    from rich.table import Table

    from celebalab.models.predict import top_attributes

    rows = top_attributes(frame, top)
    paths = frame["path"].tolist()
    shown = len(rows) if max_rows <= 0 else min(max_rows, len(rows))
    table = Table(title=f"top {top} attributes per image (bold: predicted present)")
    table.add_column("image")
    table.add_column("attributes (probability)")
    for path, attrs in zip(paths[:shown], rows[:shown], strict=True):
        cells = [f"[bold]{n}[/bold] {p:.2f}" if on else f"[dim]{n} {p:.2f}[/dim]"
                 for n, p, on in attrs]  # fmt: skip
        table.add_row(Path(path).name, ", ".join(cells))
    console = Console()
    console.print(table)
    if shown < len(rows):
        console.print(f"… {len(rows) - shown} more image(s); use --json or --csv for all")
