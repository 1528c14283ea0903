"""celebalab.rundir: the folder rules every run kind shares, and the record base class."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from celebalab.errors import DataFormatError, OptionError
from celebalab.rundir import OMIT_NONE, Record, RunKind, open_output, staged_path, writing

KIND = RunKind("test run", manifest="run.json", outputs=("model.pt", "logs"), derived=("eval_*",))


def _finished(folder: Path, text: str) -> Path:
    (folder / "logs").mkdir(parents=True)
    (folder / "logs" / "a.csv").write_text(text)
    (folder / "model.pt").write_text(text)
    (folder / "run.json").write_text(text)
    return folder


def test_a_new_folder_is_written_in_place_and_a_full_one_needs_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with writing(open_output(out, KIND)) as output:
        assert output.path == out and not output.staged
        _finished(output.path, "first")
    with pytest.raises(OptionError, match="folder is not empty; pass --overwrite"):
        open_output(out, KIND)
    with pytest.raises(OptionError, match="is a file"):
        open_output(out / "model.pt", KIND)


def test_overwrite_swaps_only_owned_entries_and_keeps_the_rest(tmp_path: Path) -> None:
    out = _finished(tmp_path / "run", "old")
    (out / "eval_test").mkdir()  # derived from the old run: stale once it is replaced
    (out / "notes.txt").write_text("mine")
    (out / "data").mkdir()
    with writing(open_output(out, KIND, overwrite=True)) as output:
        assert output.path == staged_path(out)
        _finished(output.path, "new")
        assert (out / "run.json").read_text() == "old"  # the earlier run stays until the end
    assert sorted(p.name for p in out.iterdir()) == ["data", "logs", "model.pt", "notes.txt",
                                                     "run.json"]  # fmt: skip
    assert (out / "run.json").read_text() == "new" and (out / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_a_failed_overwrite_leaves_the_earlier_run_and_resumable_work(tmp_path: Path) -> None:
    out = _finished(tmp_path / "run", "old")
    with pytest.raises(RuntimeError), writing(open_output(out, KIND, overwrite=True)) as output:
        (output.path / "model.pt").write_text("half")
        raise RuntimeError("disk full")
    assert not staged_path(out).exists() and (out / "model.pt").read_text() == "old"
    with pytest.raises(RuntimeError), writing(open_output(out, KIND, overwrite=True), keep=True):
        (staged_path(out) / "model.pt").write_text("half")
        raise RuntimeError("killed")
    assert (staged_path(out) / "model.pt").read_text() == "half"
    assert open_output(out, KIND, resume=True).path == staged_path(out)  # --resume finds it
    again = open_output(out, KIND, overwrite=True)  # a new overwrite starts afresh
    assert again.staged and not staged_path(out).exists()
    assert (out / "run.json").read_text() == "old"


def test_resumable_work_is_continued_by_the_same_command(tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "job.txt").write_text("a")

    def same(folder: Path) -> bool:
        return (folder / "job.txt").is_file() and (folder / "job.txt").read_text() == "a"

    assert open_output(out, KIND, resumable=same).path == out
    _finished(out, "old")
    (out / "job.txt").unlink()
    staged = staged_path(out)
    staged.mkdir()
    (staged / "job.txt").write_text("a")
    assert open_output(out, KIND, overwrite=True, resumable=same).path == staged
    with pytest.raises(OptionError, match="exclude each other"):
        open_output(out, KIND, overwrite=True, resume=True)


def test_staged_new_run_leaves_nothing_after_a_failure(tmp_path: Path) -> None:
    out = tmp_path / "stats"
    with pytest.raises(RuntimeError), writing(open_output(out, KIND, stage=True)) as output:
        (output.path / "model.pt").write_text("half")
        raise RuntimeError("disk full")
    assert list(tmp_path.iterdir()) == []


@dataclasses.dataclass(frozen=True, kw_only=True)
class _Inner(Record):
    size: int
    names: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, kw_only=True)
class _Outer(Record):
    inner: _Inner
    maybe: _Inner | None = None
    note: str | None = dataclasses.field(default=None, metadata=OMIT_NONE)


def test_records_round_trip_and_keep_keys_they_do_not_declare() -> None:
    data = {"inner": {"size": 3, "names": ["a"], "later": 1}, "maybe": None, "newer": [1]}
    record = _Outer.from_json(data)
    assert record.inner == _Inner(size=3, names=("a",), extra={"later": 1})
    assert record.to_json() == data  # "note" is None: left out, as in older files
    assert _Outer.from_json({**data, "note": "x"}).to_json()["note"] == "x"
    with pytest.raises(DataFormatError, match=r"run.json: lacks required keys \['size'\]"):
        _Outer.from_json({"inner": {}}, "run.json")
