"""Where a command writes its run folder, and how an earlier run in it is replaced.

Rules, the same for every kind of run (classifier, imported model, GAN, embedding set, explain
output, statistics):

- **create**: a missing or empty ``--out`` is written in place.
- **resume**: a folder holding this command's unfinished work (``resumable``) is continued in
  place; ``--resume`` (train, gan train) first looks for an interrupted ``--overwrite`` of it.
- **refuse**: any other non-empty ``--out`` needs ``--overwrite``.
- **overwrite**: the new run is written into a staged sibling ``.NAME.overwrite`` and swapped in
  only when complete (:meth:`RunOutput.commit`): the earlier run stays intact and loadable until
  then, and a failed overwrite leaves it untouched. The swap removes only the names this kind of
  run owns (:attr:`RunKind.outputs`, :attr:`RunKind.derived`), never other files in the folder.
  An interrupted overwrite is resumed by the same command (it finds the staged folder again).
- **manifest last**: the manifest (``run.json``, ``manifest.json``, ``results.json``, …) is the
  last file written and, in a swap, the first one taken away and the last one put back, so a
  folder with its manifest is always one complete run.

Only the main process of a distributed job (``RANK``/``LOCAL_RANK`` unset or 0) changes folders.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from celebalab.errors import OptionError
from celebalab.io import check_no_file_above

STAGED_SUFFIX = ".overwrite"


@dataclass(frozen=True)
class RunKind:
    """What one kind of run writes into its folder.

    ``outputs`` are the top-level names the command writes (``fnmatch`` patterns allowed);
    ``derived`` the names later commands add from this run's content (``evaluate``'s
    ``eval_<split>``), stale once the run is replaced, so an overwrite removes them too.
    """

    name: str
    manifest: str
    outputs: tuple[str, ...]
    derived: tuple[str, ...] = ()

    def owns(self, name: str) -> bool:
        """Whether ``name`` (a top-level entry of a run folder) belongs to this kind of run."""
        patterns = (self.manifest, *self.outputs, *self.derived)
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def is_main_process() -> bool:
    """Whether this process may change run folders (the only one, or rank 0 of a DDP job)."""
    return all(os.environ.get(key, "0") == "0" for key in ("RANK", "LOCAL_RANK"))


def staged_path(out: Path) -> Path:
    """The hidden sibling an ``--overwrite`` of ``out`` is written into."""
    return out.parent / f".{out.name}{STAGED_SUFFIX}"


@dataclass(frozen=True)
class RunOutput:
    """Where one command writes: ``path`` is ``final`` itself, or its staged sibling."""

    final: Path
    path: Path
    kind: RunKind

    @property
    def staged(self) -> bool:
        """Whether the run is written beside ``final`` and swapped in by :meth:`commit`."""
        return self.path != self.final

    def commit(self) -> None:
        """Put a staged run in place of the earlier one (the manifest last). Only a complete
        run (its manifest written) is swapped in: a run stopped early (``--max-steps``) stays
        staged for ``--resume``. A no-op for a run written in place."""
        complete = (self.path / self.kind.manifest).is_file()
        if self.staged and complete and is_main_process():
            _swap(self.path, self.final, self.kind)

    def abandon(self, keep: bool) -> None:
        """After a failure: drop the staged folder, unless ``keep`` (work to resume) and it
        holds some. The earlier run in ``final`` is never touched."""
        if not self.staged or not is_main_process() or not self.path.is_dir():
            return
        if not keep or not any(self.path.iterdir()):
            shutil.rmtree(self.path)


def open_output(
    out: str | Path,
    kind: RunKind,
    *,
    overwrite: bool = False,
    resume: bool = False,
    resumable: Callable[[Path], bool] | None = None,
    stage: bool = False,
    option: str = "--out",
    hint: str = "",
) -> RunOutput:
    """Decide where the run of ``kind`` for ``out`` is written (rules in the module docstring).

    ``resumable(folder)`` says whether ``folder`` holds this command's unfinished work with the
    same settings (explain, embed extract resume by rerunning the same command). ``stage``
    writes even a new run beside ``out`` (commands that cannot resume: a failure leaves nothing
    in ``out``). ``hint`` ends the "not empty" error (``"use --resume to continue it"``).
    Nothing is written here except the removal of a stale staged folder.
    """
    final = Path(out)
    check_no_file_above(final, option)
    if final.exists() and not final.is_dir():
        raise OptionError(f"{option} {final}: is a file, not a folder; give a folder")
    staged = staged_path(final)
    if resume:
        if overwrite:
            raise OptionError("--resume and --overwrite exclude each other")
        return RunOutput(final, staged if staged.is_dir() else final, kind)
    can_resume = resumable or (lambda _folder: False)
    if can_resume(final):
        return RunOutput(final, final, kind)
    if _has_entries(final) and not overwrite:
        tail = hint or "pass --overwrite to replace the run in it or choose another folder"
        raise OptionError(f"{option} {final}: folder is not empty; {tail}")
    if staged.is_dir() and not can_resume(staged) and is_main_process():
        shutil.rmtree(staged)  # an abandoned earlier attempt: this run starts afresh
    return RunOutput(final, staged if stage or _has_entries(final) else final, kind)


@contextlib.contextmanager
def writing(output: RunOutput, keep: bool = False) -> Iterator[RunOutput]:
    """Make ``output.path``, commit it when the block succeeds (:meth:`RunOutput.commit`); on
    failure leave the earlier run untouched (and the staged work too when ``keep``: the same
    command resumes it). A folder made here and still empty after a failure is removed, so the
    corrected command finds none."""
    made = not output.path.exists()
    try:
        output.path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        reason = (err.strerror or type(err).__name__).lower()
        raise OptionError(
            f"{output.final}: cannot write there ({reason}); choose another place"
        ) from None
    try:
        yield output
    except BaseException:
        output.abandon(keep)
        if made and output.path.is_dir() and not any(output.path.iterdir()):
            output.path.rmdir()
        raise
    output.commit()


def _has_entries(folder: Path) -> bool:
    return folder.is_dir() and any(folder.iterdir())


def _swap(staging: Path, final: Path, kind: RunKind) -> None:
    """Move the earlier run's own entries aside (manifest first), the new ones in (manifest
    last), then delete the earlier ones. Entries ``kind`` does not own stay where they are."""
    final.mkdir(parents=True, exist_ok=True)
    trash = Path(tempfile.mkdtemp(prefix=f".{final.name}.old-", dir=final.parent))
    old = sorted((p for p in final.iterdir() if kind.owns(p.name)),
                 key=lambda p: p.name != kind.manifest)  # fmt: skip
    for entry in old:
        os.replace(entry, trash / entry.name)
    new = sorted(staging.iterdir(), key=lambda p: p.name == kind.manifest)
    for entry in new:
        os.replace(entry, final / entry.name)
    staging.rmdir()
    shutil.rmtree(trash, ignore_errors=True)
