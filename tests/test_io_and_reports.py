"""Atomic writes and the self-contained HTML report builder."""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pandas as pd
import pytest

from celebalab.io import atomic_path, write_bytes_atomic, write_json_atomic
from celebalab.reports.html import Report


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path):
    target = tmp_path / "sub" / "out.bin"
    write_bytes_atomic(target, b"one")
    write_bytes_atomic(target, b"two")
    assert target.read_bytes() == b"two"
    assert os.listdir(target.parent) == ["out.bin"]
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask


def test_failed_block_keeps_the_old_file(tmp_path):
    target = tmp_path / "keep.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["keep.txt"]


def test_json_writes_nan_as_null(tmp_path):
    path = write_json_atomic(tmp_path / "x.json", {"a": float("nan"), "b": [1.5, float("nan")]})
    assert json.loads(path.read_text()) == {"a": None, "b": [1.5, None]}


def test_report_is_self_contained_and_shows_undefined(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    report = Report("Title <x>", subtitle="sub")
    sec = report.section("Numbers")
    sec.table(pd.DataFrame({"metric": [0.5, np.nan]}, index=["a", "b"]))
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    sec.figure(fig, alt="line")
    sec.image(np.zeros((4, 4, 3), np.uint8))
    html = report.write(tmp_path / "r.html").read_text()
    assert "Title &lt;x&gt;" in html
    assert "undefined" in html and "0.500" in html
    assert html.count("data:image/png;base64,") == 2
    assert "http://" not in html and "https://" not in html


def test_json_writes_numpy_values_as_plain_numbers(tmp_path):
    obj = {"i": np.int64(3), "f": np.float32(0.5), "nan": np.float32("nan"), "a": np.arange(2)}
    path = write_json_atomic(tmp_path / "n.json", obj)
    assert json.loads(path.read_text()) == {"i": 3, "f": 0.5, "nan": None, "a": [0, 1]}
