"""Issue 8 for ``stats``: bad options and output folders are one-line errors, a non-empty --out is
replaced only with --overwrite (and then only the files stats writes), and an interrupted run
never leaves an --out that looks complete."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from celeba_trees import celeba_truth, write_official
from celebalab.analysis import StatsOptions, compute_stats, run_stats
from celebalab.cli import main
from celebalab.errors import OptionError
from celebalab.options import ConfigError
from test_stats_inputs import attribute_frame

FAST = {"ks": (2, 3), "sample": 100, "tsne": False, "images": False}


def _error(capsys: pytest.CaptureFixture, argv: list[str]) -> str:
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    return err


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_official(tmp_path_factory.mktemp("stats") / "CelebA", celeba_truth(30))


def test_out_given_a_file(root: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    a_file = tmp_path / "stats.txt"
    a_file.write_text("mine")
    err = _error(capsys, ["stats", str(root), "--out", str(a_file)])
    assert f"--out {a_file}: is a file, not a folder" in err and a_file.read_text() == "mine"


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("--sample", "-1", "--sample must be >= 2, got -1"),
        ("--k", "1", "--k must be >= 2, got 1"),
        ("--partition", "tran", "--partition must be a known partition, not 'tran'"),
    ],
)
def test_bad_counts(
    root: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
    option: str,
    value: str,
    expected: str,
) -> None:
    err = _error(capsys, ["stats", str(root), "--out", str(tmp_path / "s"), option, value])
    assert expected in err and "negative dimensions" not in err
    assert not (tmp_path / "s").exists()


def test_stats_options_check_the_library_before_any_reading(tmp_path: Path) -> None:
    """StatsOptions checks run_stats and compute_stats too, and refuses unknown keys."""
    with pytest.raises(ConfigError, match="--sample must be >= 2, got 1"):
        run_stats(tmp_path / "no dataset", tmp_path / "s", sample=1)
    with pytest.raises(ConfigError, match="run_stats: unknown statistics option"):
        run_stats(tmp_path / "no dataset", tmp_path / "s", clusters=3)
    with pytest.raises(ConfigError, match="--tsne must be true or false"):
        compute_stats(attribute_frame(50), tsne="no")
    with pytest.raises(ConfigError, match="unknown statistics option"):
        StatsOptions.from_dict({"ks": [2, 3]})
    assert not (tmp_path / "s").exists()


def test_overwrite_replaces_only_the_stats_files(tmp_path: Path) -> None:
    out = tmp_path / "stats"
    out.mkdir()
    (out / "notes.txt").write_text("my notes")
    frame = attribute_frame(200)
    with pytest.raises(OptionError, match="folder is not empty; pass --overwrite"):
        run_stats(frame, out, **FAST)
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    result = run_stats(frame, out, overwrite=True, **FAST)
    names = {p.name for p in out.iterdir()}
    assert {"notes.txt", "summary.json", "report.html"} <= names
    assert (out / "notes.txt").read_text() == "my notes"
    assert all(path.parent == out and path.exists() for path in result.files.values())
    assert [p.name for p in tmp_path.iterdir()] == ["stats"]  # no staging folder left behind


def test_a_failed_write_keeps_the_earlier_outputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "stats"
    out.mkdir()
    (out / "summary.json").write_text("{}")  # an earlier run's outputs

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr("celebalab.analysis.report.build_stats_report", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        run_stats(attribute_frame(200), out, overwrite=True, **FAST)
    assert [p.name for p in out.iterdir()] == ["summary.json"]
    assert (out / "summary.json").read_text() == "{}"
    assert [p.name for p in tmp_path.iterdir()] == ["stats"]


_KILLABLE = """
import sys, time
from pathlib import Path
import celebalab.analysis.report as report
from celebalab.analysis import StatsOptions, compute_stats, run_stats
sys.path.insert(0, sys.argv[2])
from test_stats_inputs import attribute_frame

def stall(result):
    Path(sys.argv[1] + ".ready").write_text("tables written")
    time.sleep(600)

report.build_stats_report = stall
run_stats(attribute_frame(200), sys.argv[1], ks=(2, 3), sample=100, tsne=False, images=False)
"""


@pytest.mark.slow
def test_a_killed_run_leaves_no_out_that_looks_complete(tmp_path: Path) -> None:
    out = tmp_path / "stats"
    child = subprocess.Popen(
        [sys.executable, "-c", _KILLABLE, str(out), str(Path(__file__).parent)],
        start_new_session=True,
    )
    ready = Path(f"{out}.ready")
    deadline = time.monotonic() + 120
    while not ready.exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert ready.exists(), "the child never reached the last file"
    assert not out.exists()
    (staging,) = [p for p in tmp_path.iterdir() if p.name == ".stats.overwrite"]
    assert (staging / "frequencies.csv").exists() and not (staging / "report.html").exists()


def test_an_unwritable_place_is_a_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def denied(self: Path, *args: object, **kwargs: object) -> None:  # tests run as root
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "mkdir", denied)
    expected = "cannot write there \\(permission denied\\)"
    with pytest.raises(OptionError, match=expected):
        run_stats(attribute_frame(200), tmp_path / "stats", **FAST)
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []
