"""The one-line refusal of a bad command-line option (shared by the CLI option tests)."""

from __future__ import annotations

import pytest


def refused_in_one_line(argv: list[str], capsys: pytest.CaptureFixture, words: str) -> str:
    """Run ``celebalab ARGV``: exit status 2 and one ``error:`` line holding ``words``."""
    from celebalab.cli import main

    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and words in err and "\n" not in err, err
    return err
