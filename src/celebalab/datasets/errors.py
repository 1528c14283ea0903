"""Errors raised on bad input: each names the file, the line (when there is one) and the problem."""

from __future__ import annotations

from pathlib import Path


class CelebalabError(Exception):
    """Base class for user-facing errors; the CLI prints these as one line, without a traceback."""


class DataFormatError(CelebalabError):
    """A dataset file does not have the published format."""

    def __init__(self, path: str | Path, problem: str, line: int | None = None) -> None:
        self.path = Path(path)
        self.line = line
        self.problem = problem
        where = f"{self.path}:{line}" if line is not None else str(self.path)
        super().__init__(f"{where}: {problem}")


class DatasetLayoutError(CelebalabError):
    """A folder is not a dataset celebalab can read (wrong folder, zip not extracted, …)."""
