"""The ``celebalab`` command: ``celebalab <group> <command>``.

Each capability owns its sub-commands in its own ``cli`` module; this file only assembles them and
turns user-facing errors into one clear line (exit code 2) instead of a traceback.
"""

from __future__ import annotations

import sys

import typer

from celebalab.analysis.cli import register as register_stats
from celebalab.datasets.cli import app as data_app
from celebalab.datasets.errors import CelebalabError
from celebalab.models.cli import register as register_models

try:  # recent typer raises the exceptions of the click it vendors, not click's own
    from typer._click.exceptions import ClickException
except ImportError:
    from click import ClickException

app = typer.Typer(
    name="celebalab",
    help="Face-attribute research toolkit for CelebA and CelebAMask-HQ.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(data_app, name="data", help="Read, verify, synthesise and pack datasets.")
register_stats(app)
register_models(app)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; user errors print ``error: …`` on one line and exit with status 2."""
    try:
        code = app(args=argv, standalone_mode=False)
    except CelebalabError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except (typer.Exit, SystemExit) as done:
        return int(getattr(done, "exit_code", getattr(done, "code", 0)) or 0)
    except typer.Abort:
        print("aborted", file=sys.stderr)
        return 130
    except ClickException as err:  # usage errors: bad option, missing argument
        err.show()
        return err.exit_code
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
