"""MkDocs hook: the command reference page is every command's ``--help``, read at build time.

``docs/commands.md`` holds the marker ``<!-- celebalab help -->``; the hook replaces it with one
section per command, so the page can never fall behind the CLI.
"""

from __future__ import annotations

from typing import Any

import typer
from typer.testing import CliRunner

MARKER = "<!-- celebalab help -->"


def _commands(group: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every leaf command's path, in the order ``celebalab --help`` lists them."""
    if not hasattr(group, "list_commands"):
        return [path]
    found: list[tuple[str, ...]] = []
    for name in group.list_commands(None):
        found += _commands(group.get_command(None, name), (*path, name))
    return found


def on_page_markdown(markdown: str, page, config, files) -> str:
    """Fill the command reference page."""
    if MARKER not in markdown:
        return markdown
    from celebalab.cli import app

    runner = CliRunner()
    parts = []
    for path in [(), *_commands(typer.main.get_command(app))]:
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "100"}, color=False)
        if result.exit_code != 0:
            raise RuntimeError(f"celebalab {' '.join(path)} --help failed: {result.output}")
        text = "\n".join(line.rstrip() for line in result.output.strip("\n").splitlines())
        title = " ".join(("celebalab", *path))
        parts.append(f"## {title}\n\n```text\n{text}\n```\n")
    return markdown.replace(MARKER, "\n".join(parts))
