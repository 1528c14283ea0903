"""The ``celebalab`` command: ``celebalab <group> <command>``.

Each capability owns its sub-commands in its own ``cli`` module; this file only assembles them and
turns user-facing errors into one clear line (exit code 2) instead of a traceback.
"""

from __future__ import annotations

import sys

import typer

from celebalab import _progress, stopping
from celebalab._help import install as install_plain_help
from celebalab.analysis.cli import register as register_stats
from celebalab.datasets.cli import app as data_app
from celebalab.embeddings.cli import app as embed_app
from celebalab.errors import CelebalabError
from celebalab.explain.cli import register as register_explain
from celebalab.explorer.cli import register as register_explorer
from celebalab.generate.cli import app as gan_app
from celebalab.models.cli import register as register_models
from celebalab.models.cli_import import app as model_app
from celebalab.retrieval.cli import register as register_retrieval

install_plain_help()
app = typer.Typer(
    name="celebalab",
    help="Face-attribute research toolkit for CelebA and CelebAMask-HQ.",
    epilog="Example: `celebalab data synth data/synth --n 2000` then "
    "`celebalab stats data/synth/CelebA --out out/stats`. "
    "Every command has `--help`; the user guide is in docs/ (`make docs`).",
    rich_markup_mode="markdown",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(data_app, name="data", help="Read, verify, synthesise and pack datasets.")
register_stats(app)
register_models(app)
app.add_typer(model_app, name="model", help="Pretrained models: import dlib, ONNX, TorchScript.")
app.add_typer(embed_app, name="embed", help="Face embeddings: import, export, extract, evaluate.")
register_retrieval(app)
register_explorer(app)
register_explain(app)
app.add_typer(gan_app, name="gan", help="Face generation: train, sample, evaluate DCGANs.")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; user errors print ``error: …`` on one line and exit with status 2.

    Click's standalone mode reports usage errors (bad option, missing argument) itself and ends
    every run with ``SystemExit``; only celebalab's own errors need catching here. Ctrl-C and
    SIGTERM stop a command with one line saying how to resume, and status 130 / 143. Progress
    shows on stderr unless the command's ``--no-progress`` hides it (:mod:`celebalab._progress`).
    """
    try:
        with stopping.stop_on_signals(), _progress.shown(True):
            app(args=argv, standalone_mode=True)
    except CelebalabError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except stopping.Stopped as stop:
        print(stopping.resume_line(sys.argv[1:] if argv is None else argv, stop), file=sys.stderr)
        return stop.exit_code
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else 0 if done.code is None else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
