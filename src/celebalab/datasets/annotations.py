"""Fast, exact parsers for the CelebA and CelebAMask-HQ annotation files.

Every published variant is read as it is: CRLF, LF or CR-only line endings, a row-count line, a
header with a trailing space, columns separated by runs of spaces (official ``.txt``) or commas
(Kaggle ``.csv``, standard quoting allowed). The whole file is tokenised at once with numpy (one
pass over the bytes instead of one Python call per row), which keeps the exact line of every
token, so each problem found (wrong field count, bad value, duplicate id, an id that is not a
plain file name, count line mismatch, unknown header name, binary data) is reported as
``file:line: problem`` without a second, slow scan.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd
import pyarrow as pa

from celebalab.datasets.schema import (
    ATTRIBUTE_NAMES,
    BBOX_COLUMNS,
    LANDMARK_COLUMNS,
    POSE_COLUMNS,
    unknown_name_message,
)
from celebalab.errors import DataFormatError

_MINUS, _COMMA, _SPACE, _NEWLINE, _QUOTE = 45, 44, 32, 10, 34
_MAX_INT_DIGITS = 9
_SLASH, _BACKSLASH, _DOT = 47, 92, 46
#: The problem of an id that is not a plain file name (also used by ``embed import``).
PLAIN_FILE_NAME = "expected a plain file name (no folder, no leading '.')"
#: One name that is no plain file name: a folder part, a leading '.' or a control character
#: (newline, NUL); joined to an image folder it could reach outside it.
_NOT_PLAIN = re.compile(r"[/\\\x00-\x1f\x7f]|^\.")
#: Bytes that never occur in a text annotation file (control characters other than tab/CR/LF).
_BINARY_BYTES = np.array([b for b in range(32) if b not in (9, 10, 13)] + [127], dtype=np.uint8)
_SNIFF_BYTES = 1 << 16
_BOM = b"\xef\xbb\xbf"


def is_plain_file_name(name: str) -> bool:
    """Whether ``name`` (one string) names a file directly inside a folder."""
    return bool(name) and _NOT_PLAIN.search(name) is None


@dataclass(frozen=True)
class Field:
    """One column of an annotation file: its canonical name, token kind and output dtype."""

    name: str
    kind: str  # "str", "int" or "float"
    dtype: str
    allowed: tuple[int, ...] | None = None  # allowed integer values, when restricted


@dataclass(frozen=True)
class FileSpec:
    """The published structure of one annotation file kind."""

    kind: str
    fields: tuple[Field, ...]  # the id column first
    count_line: bool  # line 1 of the .txt variant holds the number of rows
    header: bool  # the .txt variant has a header line naming the value columns
    aliases: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def value_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields[1:])


def _ids(name: str = "image_id") -> Field:
    return Field(name, "str", "str")


SPECS: MappingProxyType[str, FileSpec] = MappingProxyType(
    {
        "attributes": FileSpec(
            "attributes",
            (_ids(), *(Field(n, "int", "uint8", (-1, 1)) for n in ATTRIBUTE_NAMES)),
            count_line=True,
            header=True,
        ),
        "partition": FileSpec(
            "partition", (_ids(), Field("partition", "int", "int8", (0, 1, 2))), False, False
        ),
        "identity": FileSpec("identity", (_ids(), Field("identity", "int", "int32")), False, False),
        "bbox": FileSpec(
            "bbox", (_ids(), *(Field(n, "int", "int32") for n in BBOX_COLUMNS)), True, True
        ),
        "landmarks": FileSpec(
            "landmarks", (_ids(), *(Field(n, "int", "int16") for n in LANDMARK_COLUMNS)), True, True
        ),
        "pose": FileSpec(
            "pose",
            (_ids(), *(Field(n, "float", "float32") for n in POSE_COLUMNS)),
            count_line=True,
            header=True,
            aliases=MappingProxyType({"raw": "roll"}),  # the published header says "Yaw Pitch Raw"
        ),
        "hq_mapping": FileSpec(
            "hq_mapping",
            (Field("idx", "int", "int32"), Field("orig_idx", "int", "int32"), _ids("orig_file")),
            count_line=False,
            header=True,
        ),
    }
)
#: Annotation kinds understood by :func:`read_annotation`.
ANNOTATION_KINDS: tuple[str, ...] = tuple(SPECS)


@dataclass
class ParseResult:
    """Rows that parsed cleanly plus every problem found (the first ``max_problems`` kept)."""

    path: Path
    frame: pd.DataFrame
    problems: list[DataFormatError]
    num_problems: int
    #: First token (the id) of every row dropped for a problem: still listed in the file.
    rejected_ids: list[str] = field(default_factory=list)
    #: The 1-based file line of every row of ``frame`` (for ``file:line`` reports about rows).
    lines: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))

    @property
    def ok(self) -> bool:
        return self.num_problems == 0


class _Problems:
    """Collects ``(line, message)`` pairs; keeps the earliest ``limit`` lines and counts all."""

    def __init__(self, path: Path, limit: int) -> None:
        self.path, self.limit, self.items, self.count = path, limit, [], 0
        self.rejected_ids: list[str] = []

    def add(self, line: int, message: str) -> None:
        self.count += 1
        self.items.append((line, message))

    def add_many(self, lines: np.ndarray, messages: list[str] | str) -> None:
        """Record problems at ``lines``; ``messages`` is one text or one per line."""
        self.count += len(lines)
        keep = min(len(lines), self.limit)
        texts = [messages] * keep if isinstance(messages, str) else messages[:keep]
        self.items.extend(zip(lines[:keep].tolist(), texts, strict=True))

    def errors(self) -> list[DataFormatError]:
        ordered = sorted(self.items, key=lambda item: item[0])[: self.limit]
        return [DataFormatError(self.path, message, line) for line, message in ordered]


def read_annotation(path: str | Path, kind: str) -> pd.DataFrame:
    """Read one annotation file strictly; raise :class:`DataFormatError` on its first problem.

    ``kind`` is one of :data:`ANNOTATION_KINDS`; a ``.csv`` suffix selects the Kaggle variant.
    Attribute values -1/1 become uint8 0/1, columns come in canonical (schema) order whatever the
    order of the header, and rows keep the file order.
    """
    result = parse_annotation(path, kind, max_problems=1)
    if result.problems:
        raise result.problems[0]
    return result.frame


def parse_annotation(path: str | Path, kind: str, max_problems: int = 100) -> ParseResult:
    """Parse a file and collect *all* its problems instead of stopping at the first.

    The returned frame holds only the rows without problems, so a report can still count them.
    """
    if kind not in SPECS:
        raise KeyError(unknown_name_message("annotation kind", kind, ANNOTATION_KINDS))
    path = Path(path)
    spec = SPECS[kind]
    data = read_source(path)
    problems = _Problems(path, max_problems)
    binary = _binary_line(data)
    if binary is not None:
        utf16 = data[:2] in (b"\xff\xfe", b"\xfe\xff")  # a spreadsheet's "Unicode text"
        problems.add(
            binary,
            "UTF-16 text: save the file as UTF-8 (or ASCII)"
            if utf16
            else "binary data, not a text annotation file: is this the right file?",
        )
        frame, lines = _empty(spec)
    else:
        if data.startswith(_BOM):  # a BOM left by a spreadsheet program
            data = b"\x00\x00\x00" + data[3:]
        if b"\n" not in data and b"\r" in data:  # CR-only line endings (classic Mac OS)
            data = data.replace(b"\r", b"\n")
        frame, lines = _parse(data, spec, path.suffix.lower() == ".csv", problems)
    return ParseResult(path, frame, problems.errors(), problems.count, problems.rejected_ids, lines)


def read_source(path: Path) -> bytes:
    """The bytes of an annotation file; an unreadable one (permissions, a folder, an I/O error)
    is a :class:`DataFormatError` naming it, never a bare ``OSError``."""
    try:
        return path.read_bytes()
    except OSError as err:
        raise unreadable_file(path, err) from None


def unreadable_file(path: Path, err: OSError) -> DataFormatError:
    """The one-line error for an annotation file the operating system would not let us read."""
    reason = (err.strerror or type(err).__name__).lower()
    return DataFormatError(
        path, f"cannot read the file ({reason}); check that it is a readable file"
    )


def _binary_line(data: bytes) -> int | None:
    """The line of the first control byte in the file's start (binary data), else None."""
    head = data[3:_SNIFF_BYTES] if data.startswith(_BOM) else data[:_SNIFF_BYTES]
    found = np.flatnonzero(np.isin(np.frombuffer(head, dtype=np.uint8), _BINARY_BYTES))
    if not len(found):
        return None
    return head.count(b"\n", 0, int(found[0])) + 1


def _parse(
    data: bytes, spec: FileSpec, csv: bool, problems: _Problems
) -> tuple[pd.DataFrame, np.ndarray]:
    """Split off the count and header lines, then tokenise and convert the body.

    Returns the clean rows and the file line of each.
    """
    buf = np.frombuffer(data, dtype=np.uint8)
    if not data.strip(b"\x00 \t\r\n"):
        problems.add(1, "file is empty")
        return _empty(spec)
    newlines = np.flatnonzero(buf == _NEWLINE)
    line_ends = np.append(newlines, len(buf)) if len(buf) and buf[-1] != _NEWLINE else newlines
    preamble_lines = (0 if csv else int(spec.count_line)) + int(spec.header or csv)
    if len(line_ends) < preamble_lines:
        problems.add(1, f"file is too short: expected {preamble_lines} line(s) before the rows")
        return _empty(spec)
    line_starts = np.concatenate(([0], line_ends[:-1] + 1))

    def line_text(i: int) -> str:
        raw = bytes(buf[line_starts[i] : line_ends[i]]).replace(b"\x00", b"")
        return raw.decode("utf-8", errors="replace").strip()

    mixup = _format_mixup(line_text(0), csv)
    if mixup is not None:
        problems.add(1, mixup)
        return _empty(spec)
    declared = None
    if spec.count_line and not csv:
        first = line_text(0)
        if first.isdigit():
            declared = int(first)
        elif spec.header and not isinstance(perm_from_header(first, spec, csv), str):
            problems.add(1, "the row-count line is missing: line 1 is already the header")
            preamble_lines -= 1  # read on, so that the rows' own problems are found too
        else:
            problems.add(1, f"expected the number of rows on line 1, found {first[:40]!r}")
    perm = np.arange(len(spec.fields))
    if spec.header or csv:
        header_line = preamble_lines - 1
        found = perm_from_header(line_text(header_line), spec, csv)
        if isinstance(found, str):
            problems.add(header_line + 1, found)
            return _empty(spec)
        perm = found
    body_start = int(line_starts[preamble_lines]) if preamble_lines < len(line_starts) else len(buf)
    frame, rows_seen, lines = _parse_body(
        buf, body_start, line_ends[preamble_lines:], preamble_lines, spec, csv, perm, problems
    )
    if declared is not None and declared != rows_seen:
        problems.add(1, f"count line says {declared} rows but the file has {rows_seen}")
    return frame, lines


def _format_mixup(first_line: str, csv: bool) -> str | None:
    """A message when line 1 shows a Kaggle CSV named ``.txt`` or an official file as ``.csv``."""
    if not csv and "," in first_line:
        return "commas on line 1: this is a Kaggle CSV file, not an official .txt file"
    if csv and first_line.isdigit():
        return "line 1 is a row count: this is an official .txt file, not a Kaggle CSV file"
    return None


def perm_from_header(text: str, spec: FileSpec, csv: bool) -> np.ndarray | str:
    """Map header names to file columns: ``perm[i]`` is the file column of canonical field ``i``.

    Names are matched by name in any order (case-insensitively, with the spec's aliases); the id
    column's own name may be present or not. Returns a problem message instead on a bad header.
    """
    names = [n.strip('"') for n in text.replace(",", " ").split()] if csv else text.split()
    canonical = {f.name.lower(): f.name for f in spec.fields}
    canonical.update({alias: target for alias, target in spec.aliases.items()})
    first = spec.fields[0].name
    leading = canonical.get(names[0].lower()) if names else None
    # the id column's name leads when it is the id's own name, or (one name per field) any
    # name that is not a value column: an extra name elsewhere is then reported by its name
    if leading == first or (names and leading is None and len(names) == len(spec.fields)):
        id_name, names = names[0], names[1:]
        if leading != first and not csv:
            return f"header column {id_name!r} should be {first!r}"
    wanted = spec.value_names
    position: dict[str, int] = {}
    for column, name in enumerate(names, start=1):
        known = canonical.get(name.lower())
        if known is None or known == first:
            label = "attribute" if spec.kind == "attributes" else f"{spec.kind} column"
            return unknown_name_message(label, name, list(wanted))
        if known in position:
            return f"header names {known!r} twice"
        position[known] = column
    missing = [n for n in wanted if n not in position]
    if missing:
        shown = ", ".join(repr(n) for n in missing[:5])
        return f"header lacks {len(missing)} column(s): {shown}"
    return np.array([0, *(position[n] for n in wanted)])


def _parse_body(
    buf: np.ndarray,
    start: int,
    line_ends: np.ndarray,
    first_line_index: int,
    spec: FileSpec,
    csv: bool,
    perm: np.ndarray,
    problems: _Problems,
) -> tuple[pd.DataFrame, int, np.ndarray]:
    """Tokenise ``buf[start:]`` and convert each column; returns the clean rows, the row count
    and the file line of each clean row.

    ``line_ends`` are absolute offsets of the body lines' ends.
    """
    body = buf[start:]
    sep = body <= _SPACE
    if csv:  # standard CSV quoting ("000001.jpg") only wraps tokens that hold no separator
        sep |= (body == _COMMA) | (body == _QUOTE)
    token_start = np.empty(len(body), dtype=bool)
    token_end = np.empty(len(body), dtype=bool)
    if len(body):
        token_start[0] = not sep[0]
        np.greater(sep[:-1], sep[1:], out=token_start[1:])
        token_end[-1] = not sep[-1]
        np.greater(sep[1:], sep[:-1], out=token_end[:-1])
    starts = np.flatnonzero(token_start) + start
    ends = np.flatnonzero(token_end) + (start + 1)
    del sep, token_start, token_end
    first_token = np.searchsorted(starts, line_ends)  # tokens before each line end
    counts = np.diff(first_token, prepend=0)
    first_token = first_token - counts
    line_numbers = np.arange(len(line_ends)) + (first_line_index + 1)
    nfields = len(spec.fields)
    nonblank = counts > 0
    rows_seen = int(nonblank.sum())
    wrong = nonblank & (counts != nfields)
    if wrong.any():
        bad = np.flatnonzero(wrong)
        messages = [f"expected {nfields} fields, found {c}" for c in counts[bad[: problems.limit]]]
        problems.add_many(line_numbers[bad], messages)
    good = np.flatnonzero(nonblank & ~wrong)
    row_tokens, token_starts, token_ends = first_token, starts, ends
    if len(good) == rows_seen and len(starts) == rows_seen * nfields:  # the usual, clean case
        starts, ends = starts.reshape(rows_seen, nfields), ends.reshape(rows_seen, nfields)
    else:
        token_index = first_token[good][:, None] + np.arange(nfields)
        starts, ends = starts[token_index], ends[token_index]
    if (perm != np.arange(nfields)).any():
        starts, ends = starts[:, perm], ends[:, perm]
    lines = line_numbers[good]
    valid = np.ones(len(good), dtype=bool)
    columns: dict[str, object] = {}
    for first, block in _blocks(spec.fields):
        cut = slice(first, first + len(block))
        tokens = _Block(buf, starts[:, cut], ends[:, cut], block, lines, valid, problems)
        values = _convert(tokens)
        text = block[0].kind == "str"
        if text:
            _check_file_names(tokens, values)
        if first == 0:
            _check_duplicates(values[:, 0], lines, valid, problems)
        for fld, column in zip(block, values.T, strict=True):
            columns[fld.name] = _text_column(column) if text else column
    frame = pd.DataFrame(columns)
    if not valid.all():
        frame = frame.loc[valid].reset_index(drop=True)
    rejected = np.concatenate((row_tokens[wrong], row_tokens[good[~valid]]))
    if len(rejected):
        ids = _token_strings(buf, token_starts[rejected], token_ends[rejected])
        problems.rejected_ids.extend(_text(i) for i in ids.tolist())
    return frame, rows_seen, lines[valid]


def _blocks(fields: tuple[Field, ...]) -> list[tuple[int, tuple[Field, ...]]]:
    """Runs of consecutive fields with the same conversion, converted together as one 2-D block."""
    runs: list[tuple[int, tuple[Field, ...]]] = []
    first = 0
    for _, group in groupby(fields, key=lambda f: (f.kind, f.dtype, f.allowed)):
        block = tuple(group)
        runs.append((first, block))
        first += len(block)
    return runs


@dataclass
class _Block:
    """The tokens ``buf[s:e]`` (rows × fields) of one block of same-kind columns, and where to
    report: ``lines`` of the rows, ``valid`` (cleared for bad rows) and the problem collector."""

    buf: np.ndarray
    s: np.ndarray
    e: np.ndarray
    fields: tuple[Field, ...]
    lines: np.ndarray
    valid: np.ndarray
    problems: _Problems

    def report(self, bad: np.ndarray, expected: str) -> None:
        """Record each bad token as ``<column>: expected …, found '<token>'``; drop its row."""
        rows, cols = np.nonzero(bad)
        shown = slice(0, self.problems.limit)
        texts = _token_strings(
            self.buf, self.s[rows[shown], cols[shown]], self.e[rows[shown], cols[shown]]
        )
        messages = [
            f"{self.fields[c].name}: {expected}, found {t.decode(errors='replace')!r}"
            for c, t in zip(cols[shown].tolist(), texts.tolist(), strict=True)
        ]
        self.problems.add_many(self.lines[rows], messages)
        self.valid[rows] = False


def _convert(block: _Block) -> np.ndarray:
    """Turn the block's tokens into values; report bad tokens and mark their rows invalid."""
    buf, s, e, fld = block.buf, block.s, block.e, block.fields[0]
    if fld.kind == "str":
        return _token_strings(buf, s.ravel(), e.ravel()).reshape(s.shape)
    if fld.kind == "float":
        return _parse_floats(block)
    if fld.allowed == (-1, 1):
        return _parse_binary(block)
    values, bad = _parse_ints(buf, s, e)
    if fld.allowed is not None:
        bad |= ~np.isin(values, fld.allowed)
    if bad.any():
        expected = " or ".join(str(v) for v in fld.allowed) if fld.allowed else "an integer"
        block.report(bad, f"expected {expected}")
        values[bad] = fld.allowed[0] if fld.allowed else 0
    info = np.iinfo(fld.dtype)
    too_big = (values < info.min) | (values > info.max)
    if too_big.any():
        block.report(too_big, f"expected a {fld.dtype}")
        values[too_big] = 0
    return values.astype(fld.dtype)


def _check_file_names(block: _Block, names: np.ndarray) -> None:
    """Ids name a file inside the dataset's image folder: a ``/`` or ``\\`` (a folder, maybe
    ``../..``) or a leading ``.`` would reach outside it, so such a row is a problem."""
    chars = names.view(np.uint8).reshape(*names.shape, names.dtype.itemsize)
    bad = ((chars == _SLASH) | (chars == _BACKSLASH)).any(axis=2) | (chars[:, :, 0] == _DOT)
    if bad.any():
        block.report(bad, PLAIN_FILE_NAME)


def _parse_binary(block: _Block) -> np.ndarray:
    """Fast path for -1/1 attribute tokens: ``1`` → 1, ``-1`` → 0, anything else is reported."""
    buf, s, e = block.buf, block.s, block.e
    length = e - s
    is_one = length == 1
    ok = (buf[e - 1] == ord("1")) & (is_one | ((length == 2) & (buf[s] == _MINUS)))
    if not ok.all():
        block.report(~ok, "expected -1 or 1")
    return is_one.view(np.uint8)


def _parse_ints(buf: np.ndarray, s: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised decimal parse of tokens with an optional leading minus; returns values, bad."""
    s, e = np.ascontiguousarray(s), np.ascontiguousarray(e)
    negative = buf[s] == _MINUS
    digits_start = s + negative
    ndigits = e - digits_start
    shortest, longest = int(ndigits.min(initial=0)), int(ndigits.max(initial=0))
    bad = (ndigits < 1) | (ndigits > _MAX_INT_DIGITS)
    values = np.zeros(s.shape, dtype=np.int64)
    for k in range(min(longest, _MAX_INT_DIGITS)):
        has = None if k < shortest else k < ndigits  # None: every token has a k-th digit
        index = digits_start + k if has is None else np.where(has, digits_start + k, s)
        digit = buf[index] - np.uint8(48)  # wraps around: anything but 0-9 becomes > 9
        not_digit = digit > 9
        bad |= not_digit if has is None else has & not_digit
        if has is None:
            values = values * 10 + digit if k else digit.astype(np.int64)
        else:
            values = np.where(has, values * 10 + digit, values)
    return np.where(negative, -values, values), bad


def _parse_floats(block: _Block) -> np.ndarray:
    """Parse float tokens (few rows: the pose file); locate bad tokens one by one on failure."""
    s, dtype = block.s, block.fields[0].dtype
    texts = _token_strings(block.buf, s.ravel(), block.e.ravel()).reshape(s.shape)
    try:
        return texts.astype(np.float64).astype(dtype)
    except ValueError:
        pass
    bad = np.zeros(s.shape, dtype=bool)
    values = np.zeros(s.shape, dtype=dtype)
    for (row, col), text in np.ndenumerate(texts):
        try:
            values[row, col] = float(text)
        except ValueError:
            bad[row, col] = True
    block.report(bad, "expected a number")
    return values


def _token_strings(buf: np.ndarray, s: np.ndarray, e: np.ndarray) -> np.ndarray:
    """Gather tokens into a fixed-width bytes array (``S<w>``) without a Python loop."""
    lengths = e - s
    width = int(lengths.max(initial=1))
    offsets = np.arange(width)
    index = np.minimum(s[:, None] + offsets, len(buf) - 1)
    chars = np.where(offsets < lengths[:, None], buf[index], 0).astype(np.uint8)
    return np.ascontiguousarray(chars).view(f"S{width}").ravel()


def _text_column(tokens: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """Fixed-width bytes → pandas strings through Arrow (no Python object per row)."""
    binary = pa.array(tokens, type=pa.binary())
    try:
        return pd.array(binary.cast(pa.string()), dtype="str")
    except pa.ArrowInvalid:  # not UTF-8: decode row by row, marking bad bytes
        return pd.array([t.decode("utf-8", errors="replace") for t in tokens.tolist()], dtype="str")


def _check_duplicates(
    ids: np.ndarray, lines: np.ndarray, valid: np.ndarray, problems: _Problems
) -> None:
    """Report every repeated id (among valid rows) with the line where it first appeared."""
    rows = np.flatnonzero(valid)
    ids = ids[rows]
    if len(ids) < 2 or (ids[1:] > ids[:-1]).all():  # strictly increasing (the usual): unique
        return
    codes, _ = pd.factorize(ids)
    _, first = np.unique(codes, return_index=True)
    repeated = np.flatnonzero(first[codes] != np.arange(len(codes)))
    if not len(repeated):
        return
    messages = [
        f"duplicate id {_text(ids[r])!r} (first on line {lines[rows[first[codes[r]]]]})"
        for r in repeated[: problems.limit]
    ]
    problems.add_many(lines[rows[repeated]], messages)
    valid[rows[repeated]] = False


def _text(value: object) -> object:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value


def _empty(spec: FileSpec) -> tuple[pd.DataFrame, np.ndarray]:
    """No rows: an empty frame with the spec's columns, and no lines."""
    frame = pd.DataFrame(
        {f.name: np.array([], dtype=f.dtype if f.kind != "str" else object) for f in spec.fields}
    )
    return frame, np.empty(0, dtype=np.int64)
