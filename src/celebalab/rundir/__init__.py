"""Run folders and run records: one set of rules for every kind of run celebalab writes.

:mod:`._folder` decides where a command writes (create, resume, refuse, overwrite through a
staged sibling swapped in when complete, the manifest last); :mod:`._record` turns the folder's
JSON files into typed dataclasses. Each kind of run declares its :class:`RunKind` and its
record beside the code that writes it (``models.run``, ``generate.run``, ``embeddings.store``,
``explain.summary``, ``analysis.runner``, ``models.imported``).
"""

from celebalab.rundir._folder import (
    RunKind,
    RunOutput,
    is_main_process,
    open_output,
    staged_path,
    writing,
)
from celebalab.rundir._record import NOT_WRITTEN, OMIT_NONE, Record

__all__ = [
    "NOT_WRITTEN",
    "OMIT_NONE",
    "Record",
    "RunKind",
    "RunOutput",
    "is_main_process",
    "open_output",
    "staged_path",
    "writing",
]
