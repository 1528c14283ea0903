"""Atomic file output: a reader never sees a half-written file, an interrupted job loses nothing."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from celebalab.errors import DataFormatError, OptionError

#: Mode of the files we create: what open() gives under the umask (mkstemp alone gives 0600).
_UMASK = os.umask(0)
os.umask(_UMASK)
_FILE_MODE = 0o666 & ~_UMASK


def _temp_beside(final: Path) -> tuple[int, Path]:
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.fchmod(fd, _FILE_MODE)
    return fd, Path(name)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it onto ``path`` only if the block succeeds."""
    final = Path(path)
    fd, tmp = _temp_beside(final)
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (through one open file) and return the path."""
    final = Path(path)
    fd, tmp = _temp_beside(final)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return final


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically and return the path."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` as indented JSON atomically; NaN becomes ``null`` (undefined stays so).

    numpy scalars and arrays are written as the plain numbers and lists they hold.
    """
    return write_text_atomic(path, json.dumps(_nan_to_none(obj), indent=2, sort_keys=False) + "\n")


def _nan_to_none(obj: Any) -> Any:
    if isinstance(obj, (np.generic, np.ndarray)):
        obj = obj.tolist()
    if isinstance(obj, float) and obj != obj:
        return None
    if isinstance(obj, dict):
        return {k: _nan_to_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_nan_to_none(v) for v in obj]
    return obj


def check_output_file(path: str | Path, option: str, overwrite: bool = True) -> Path:
    """Refuse a folder given where a file is written (and an existing file without
    ``overwrite``), before any work is done; returns the path."""
    path = Path(path)
    check_no_file_above(path, option)
    if path.is_dir():
        raise OptionError(f"{option} {path}: is a folder; give a file name, e.g. {path}/out.json")
    if path.exists() and not overwrite:
        raise OptionError(f"{option} {path}: file exists; pass --overwrite to replace it")
    return path


def check_output_dir(path: str | Path, option: str, overwrite: bool) -> Path:
    """Refuse a file given where a folder is written, and a non-empty folder without
    ``overwrite``, before any work is done; returns the path."""
    path = Path(path)
    check_no_file_above(path, option)
    if path.exists() and not path.is_dir():
        raise OptionError(f"{option} {path}: is a file, not a folder; give a folder")
    if not overwrite and path.is_dir() and any(path.iterdir()):
        raise OptionError(
            f"{option} {path}: folder is not empty; pass --overwrite to replace it "
            "or choose another folder"
        )
    return path


def check_no_file_above(path: str | Path, option: str) -> None:
    """Refuse an output path below an existing file (``afile/sub``): no folder can be made
    there, and finding out only when writing would lose the work done before."""
    for parent in Path(path).parents:
        if parent.exists():
            if not parent.is_dir():
                raise OptionError(f"{option} {path}: {parent} is a file, not a folder")
            return


def read_json_object(path: Path, what: str) -> dict[str, Any]:
    """Parse ``path`` as one JSON object; corruption is a ``file:line`` error naming ``what``."""
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise DataFormatError(path, f"corrupt {what}: {err.msg}", line=err.lineno) from None
    except UnicodeDecodeError:
        raise DataFormatError(path, f"corrupt {what}: not UTF-8 text") from None
    if not isinstance(obj, dict):
        raise DataFormatError(path, f"corrupt {what}: expected a JSON object")
    return obj
