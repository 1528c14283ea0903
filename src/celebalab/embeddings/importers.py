"""``celebalab embed import``: embeddings users already have, turned into an embedding set.

Two inputs: the CelebA-Vis CSV (``celeba_buffalo_s.csv`` / ``celeba_buffalo_l.csv``: the 40
attribute columns, ``image_name``, ``id``, ``embedding_0 … embedding_{D-1}``; columns matched by
name, attributes -1/1 or 0/1, an optional leading pandas index column) and a plain ``.npy``
``N×D`` array with an id list (one ``image_id [identity]`` per line, as ``identity_CelebA.txt``).
Every problem is one :class:`DataFormatError` naming file, line and column; the set is only
written once the whole input has been checked, so nothing half-imported ever remains.
An optional CelebA ``root`` fills in partition (and identity/labels the input lacks).
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

import numpy as np
import pandas as pd

from celebalab.datasets.annotations import PLAIN_FILE_NAME, is_plain_file_name
from celebalab.datasets.schema import ATTRIBUTE_NAMES
from celebalab.embeddings.store import (
    EMBEDDING_SET,
    EmbeddingSet,
    load_embeddings,
    standard_meta,
    write_embedding_set,
)
from celebalab.errors import DataFormatError
from celebalab.rundir import open_output, writing

_EMBEDDING_COLUMN = re.compile(r"^embedding_(\d+)$")
_INDEX_COLUMNS = ("Unnamed: 0", "")
_CHUNK_ROWS = 65_536
#: Largest magnitude a cell may hold: identities and labels are int64, vectors float32.
_LIMITS = {int: (2.0**63, "int64"), float: (float(np.finfo(np.float32).max), "float32")}


def import_celeba_vis_csv(
    file: str | Path,
    out: str | Path,
    images: str | Path | None = None,
    *,
    root: str | Path | None = None,
    overwrite: bool = False,
) -> EmbeddingSet:
    """Import a CelebA-Vis embedding CSV into the embedding set ``out``; return the set.

    ``images`` is the folder holding the image files (``image_name``), kept in the manifest for
    viewers; ``root`` a CelebA copy whose partition file gives each image its split.
    """
    file = Path(file)
    header = _read_header(file)
    dims = _embedding_columns(file, header)
    _require(file, header, ["image_name", "id", *ATTRIBUTE_NAMES])
    frame = _read_csv(file, header)
    names = frame["image_name"]
    _check_cells(file, frame, header, [f"embedding_{k}" for k in range(dims)], float)
    _check_cells(file, frame, header, ["id", *ATTRIBUTE_NAMES], int)
    _check_duplicates(file, names)
    _check_names(file, names, first_line=2)
    labels = _labels(file, frame)
    vectors = frame[[f"embedding_{k}" for k in range(dims)]].to_numpy(dtype=np.float32)
    meta = standard_meta(names.astype(str), frame["id"].to_numpy(np.int64), None, labels)
    source = {"type": "csv", "file": str(file.resolve()), "arch": _model_name(file), "task": None}
    return _write(out, vectors, meta, source, images, root, overwrite)


def import_npy(
    file: str | Path,
    ids: str | Path,
    out: str | Path,
    images: str | Path | None = None,
    *,
    root: str | Path | None = None,
    overwrite: bool = False,
) -> EmbeddingSet:
    """Import an ``N×D`` ``.npy`` array and its id list (``image_id [identity]`` per line)."""
    file, ids = _input_file(file, ".npy array"), _input_file(ids, "id list")
    try:
        array = np.load(file, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as err:
        raise DataFormatError(file, f"not a readable .npy array ({err})") from None
    if array.ndim != 2 or array.shape[1] < 1:
        raise DataFormatError(file, f"expected an N×D array, got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.number):
        raise DataFormatError(file, f"expected numbers, got dtype {array.dtype}")
    vectors = np.asarray(array, dtype=np.float32)
    bad = ~np.isfinite(vectors).all(axis=1)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        col = int(np.flatnonzero(~np.isfinite(vectors[row]))[0])
        raise DataFormatError(file, f"row {row}, column {col}: value is {vectors[row, col]}")
    image_ids, identity = _read_id_list(ids)
    if len(image_ids) != len(vectors):
        raise DataFormatError(
            ids, f"{len(image_ids)} ids for {len(vectors)} vectors in {file.name}: one per row"
        )
    meta = standard_meta(image_ids, identity)
    source = {"type": "npy", "file": str(file.resolve()), "ids": str(ids.resolve()),
              "arch": None, "task": None}  # fmt: skip
    return _write(out, vectors, meta, source, images, root, overwrite)


# ---------------------------------------------------------------- shared tail


def _write(
    out: str | Path,
    vectors: np.ndarray,
    meta: pd.DataFrame,
    source: dict,
    images: str | Path | None,
    root: str | Path | None,
    overwrite: bool,
) -> EmbeddingSet:
    out = Path(out)
    data = {"root": None, "fingerprint": None}
    if root is not None:
        meta, data = _join_dataset(meta, Path(root))
        images = images or meta.attrs.get("image_dir")
    if images is not None and not Path(images).is_dir():
        raise DataFormatError(images, "image folder not found")
    chunks = (vectors[i : i + _CHUNK_ROWS] for i in range(0, len(vectors), _CHUNK_ROWS))
    with writing(open_output(out, EMBEDDING_SET, overwrite=overwrite, stage=True)) as output:
        write_embedding_set(output.path, chunks, meta, source=source, data=data, images=images)
    return load_embeddings(out)


def _join_dataset(meta: pd.DataFrame, root: Path) -> tuple[pd.DataFrame, dict]:
    """Partition from the dataset at ``root``; identity and labels where the input has none."""
    from celebalab.datasets.dataset import open_dataset
    from celebalab.models.data import data_fingerprint

    dataset = open_dataset(root)
    table = dataset.table.set_index("image_id")
    found = meta["image_id"].isin(table.index)
    if not found.any():
        raise DataFormatError(root, "none of the imported image ids is in this dataset")
    rows = table.reindex(meta["image_id"])
    meta = meta.copy()
    meta["partition"] = rows["partition"].fillna(-1).to_numpy(np.int8)
    if (meta["identity"] < 0).all():
        meta["identity"] = rows["identity"].fillna(-1).to_numpy(np.int64)
    for name in ATTRIBUTE_NAMES:
        if (meta[name] < 0).all():
            meta[name] = rows[name].fillna(-1).to_numpy(np.int8)
    meta.attrs["image_dir"] = str(dataset.image_dir)
    fingerprint = data_fingerprint(dataset.table, ATTRIBUTE_NAMES)
    return meta, {"root": str(root.resolve()), "fingerprint": fingerprint,
                  "matched": int(found.sum()), "unmatched": int((~found).sum())}  # fmt: skip


# ---------------------------------------------------------------- CSV checks


def _input_file(path: str | Path, what: str) -> Path:
    """``path`` when it is a file; a missing file or a folder is one clear error."""
    path = Path(path)
    if path.is_dir():
        raise DataFormatError(path, f"is a folder; give the {what} file")
    if not path.is_file():
        raise DataFormatError(path, "file not found" if what == "CSV" else f"{what} not found")
    return path


def _read_header(file: Path) -> list[str]:
    """Column names of the first line (a UTF-8 byte-order mark is accepted)."""
    with _input_file(file, "CSV").open("rb") as handle:
        raw = handle.readline().removeprefix(codecs.BOM_UTF8)
    try:
        first = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise DataFormatError(file, "not UTF-8 text (is this the CSV file?)", line=1) from None
    if not first.strip():
        raise DataFormatError(file, "empty file: expected a header line", line=1)
    return [c.strip().strip('"') for c in first.rstrip("\r\n").split(",")]


def _embedding_columns(file: Path, header: list[str]) -> int:
    """D, after checking that ``embedding_0 … embedding_{D-1}`` are all there, once each."""
    found = sorted(int(m.group(1)) for c in header if (m := _EMBEDDING_COLUMN.match(c)))
    if not found:
        raise DataFormatError(file, "no embedding_0 … embedding_N columns in the header", line=1)
    if found != list(range(len(found))):
        gaps = sorted(set(range(max(found) + 1)) - set(found))
        what = f"missing embedding_{gaps[0]}" if gaps else "a repeated embedding column"
        raise DataFormatError(file, f"header: {what} (columns must be embedding_0 … _N)", line=1)
    return len(found)


def _require(file: Path, header: list[str], columns: list[str]) -> None:
    missing = [c for c in columns if c not in header]
    if missing:
        shown = ", ".join(missing[:5]) + (" …" if len(missing) > 5 else "")
        raise DataFormatError(file, f"header lacks column(s) {shown}", line=1)
    repeated = sorted({c for c in header if header.count(c) > 1 and c not in _INDEX_COLUMNS})
    if repeated:
        raise DataFormatError(file, f"header repeats column(s) {', '.join(repeated)}", line=1)


def _read_csv(file: Path, header: list[str]) -> pd.DataFrame:
    """The whole table as read by pandas' C parser; a row with more fields is named by line."""
    try:
        frame = pd.read_csv(file, dtype={"image_name": str}, engine="c", low_memory=False,
                            encoding="utf-8-sig")  # fmt: skip
    except UnicodeDecodeError:
        raise DataFormatError(file, "not UTF-8 text", line=_first_non_utf8_line(file)) from None
    except pd.errors.ParserError as err:
        match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(err))
        if match:
            want, line, saw = map(int, match.groups())
            raise DataFormatError(
                file, f"row has {saw} fields, the header {want} (mixed embedding dimensions?)",
                line=line,
            ) from None  # fmt: skip
        raise DataFormatError(file, f"not a readable CSV file ({err})") from None
    except pd.errors.EmptyDataError:
        raise DataFormatError(file, "no data rows", line=2) from None
    if frame.empty:
        raise DataFormatError(file, "no data rows", line=2)
    return frame


def _first_non_utf8_line(file: Path) -> int | None:
    """Line of the first byte sequence that is not UTF-8, read in chunks (files of GBs)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    with file.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 22), b""):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as err:
                return line + chunk.count(b"\n", 0, max(err.start, 0))
            line += chunk.count(b"\n")
    return None


def _check_cells(
    file: Path, frame: pd.DataFrame, header: list[str], columns: list[str], kind: type
) -> None:
    """First empty, NaN, non-numeric, out-of-range (or, for ints, fractional) cell of
    ``columns``: an error."""
    limit = _LIMITS[kind][0]
    for column in columns:
        values = frame[column]
        numeric = pd.to_numeric(values, errors="coerce")
        array = numeric.to_numpy(dtype=np.float64, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            bad = numeric.isna() | ~(np.abs(array) <= limit)
        if kind is int and not bad.any():
            bad = numeric != np.round(numeric)
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataFormatError(file, _cell_problem(file, row, column, values.iloc[row],
                                                      len(header), kind), line=row + 2)  # fmt: skip


def _cell_problem(file: Path, row: int, column: str, value: object, fields: int, kind: type) -> str:
    line = _raw_line(file, row + 2)
    count = line.count(",") + 1 if line is not None else fields
    if count != fields:
        return f"row has {count} fields, the header {fields} (mixed embedding dimensions?)"
    if pd.isna(value) or str(value).strip() == "":
        shown = "empty" if line is None or str(value) in ("nan", "") else repr(str(value))
        return f"column {column}: {shown} value (NaN or missing)"
    limit, dtype = _LIMITS[kind]
    number = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
    if np.isfinite(number) and abs(number) > limit:
        return f"column {column}: {value} is out of range (beyond {dtype})"
    expected = "an integer" if kind is int else "a number"
    return f"column {column}: {str(value)!r} is not {expected}"


def _raw_line(file: Path, number: int) -> str | None:
    with file.open(encoding="utf-8", newline="") as handle:
        for i, line in enumerate(handle, start=1):
            if i == number:
                return line.rstrip("\r\n")
    return None


def _check_duplicates(file: Path, names: pd.Series) -> None:
    empty = names.isna() | (names.astype(str).str.strip() == "")
    if empty.any():
        row = int(np.flatnonzero(empty.to_numpy())[0])
        raise DataFormatError(file, "column image_name: empty value", line=row + 2)
    dup = names.duplicated()
    if dup.any():
        row = int(np.flatnonzero(dup.to_numpy())[0])
        first = int(np.flatnonzero((names == names.iloc[row]).to_numpy())[0])
        raise DataFormatError(
            file, f"column image_name: {names.iloc[row]!r} repeats line {first + 2}", line=row + 2
        )


def _check_names(file: Path, names: pd.Series, first_line: int) -> None:
    """Image names must be plain file names (the data layer's rule): ``file:line`` otherwise."""
    bad = ~names.astype(str).map(is_plain_file_name).to_numpy(bool)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataFormatError(file, f"image name {names.iloc[row]!r}: {PLAIN_FILE_NAME}",
                              line=row + first_line)  # fmt: skip


def _labels(file: Path, frame: pd.DataFrame) -> np.ndarray:
    """Attributes as 0/1 int8 from CelebA's -1/1 or from 0/1 (one convention per file)."""
    values = frame[list(ATTRIBUTE_NAMES)].to_numpy(dtype=np.int64)
    minus = (values == -1).any()
    allowed = (-1, 1) if minus else (0, 1)
    bad = ~np.isin(values, allowed)
    if bad.any():
        row, col = (int(v[0]) for v in np.nonzero(bad))
        convention = "-1/1" if minus else "0/1"
        raise DataFormatError(
            file,
            f"column {ATTRIBUTE_NAMES[col]}: value {values[row, col]} (the file uses {convention})",
            line=row + 2,
        )
    return (values > 0).astype(np.int8)


def _model_name(file: Path) -> str | None:
    """``buffalo_s``/``buffalo_l`` from the CelebA-Vis file name, else None."""
    match = re.search(r"buffalo_[a-z]+", file.stem)
    return f"insightface:{match.group(0)}" if match else None


# ---------------------------------------------------------------- id list


def _read_id_list(path: Path) -> tuple[list[str], np.ndarray | None]:
    """``image_id [identity]`` per line (whitespace-separated); all lines alike."""
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError as err:
        line = path.read_bytes()[: err.start].count(b"\n") + 1
        raise DataFormatError(path, "not UTF-8 text", line=line) from None
    ids: list[str] = []
    identities: list[int] = []
    width = None
    seen: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        fields = line.split()
        if not fields:
            continue
        if width is None:
            width = len(fields)
        if len(fields) != width or width > 2:
            raise DataFormatError(
                path, f"expected 'image_id [identity]' like line 1, got {len(fields)} fields",
                line=number,
            )  # fmt: skip
        if fields[0] in seen:
            raise DataFormatError(path, f"{fields[0]!r} repeats line {seen[fields[0]]}", number)
        seen[fields[0]] = number
        ids.append(fields[0])
        if not is_plain_file_name(fields[0]):
            raise DataFormatError(path, f"image name {fields[0]!r}: {PLAIN_FILE_NAME}", number)
        if width == 2:
            identities.append(_identity(path, fields[1], number))
    if not ids:
        raise DataFormatError(path, "empty id list")
    return ids, np.asarray(identities, np.int64) if width == 2 else None


def _identity(path: Path, text: str, line: int) -> int:
    """An id list's identity field as an int64."""
    if not re.fullmatch(r"-?\d+", text):
        raise DataFormatError(path, f"identity {text!r} is not an integer", line)
    value = int(text)
    if abs(value) >= _LIMITS[int][0]:
        raise DataFormatError(path, f"identity {text} is out of range (beyond int64)", line)
    return value
