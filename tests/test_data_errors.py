"""Issue 8 for the data commands: every misuse a one-line error, nothing overwritten, ids that stay
inside the dataset, a cache that notices content edits, and messages that name the real problem."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pandas as pd
import pytest

from celeba_trees import celeba_truth, official_texts, write_kaggle, write_official
from celebalab.cli import main
from celebalab.datasets import table as table_module
from celebalab.datasets.annotations import read_annotation
from celebalab.datasets.config import PackOptions, VerifyOptions
from celebalab.datasets.decode import image_error_text
from celebalab.datasets.packed import pack_images
from celebalab.datasets.schema import ATTRIBUTE_NAMES
from celebalab.datasets.table import load_table
from celebalab.datasets.verify import verify_dataset
from celebalab.errors import DataFormatError
from celebalab.options import ConfigError


def _one_line_error(capsys: pytest.CaptureFixture, argv: list[str]) -> str:
    """Run the CLI; assert it failed with status 2 and one ``error:`` line; return the line."""
    capsys.readouterr()  # drop what earlier commands printed
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    return err


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return write_official(tmp_path / "CelebA", celeba_truth(10))


# ------------------------------------------------------------ item 1: one-line errors


def test_verify_json_given_a_folder_or_an_existing_file(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    err = _one_line_error(capsys, ["data", "verify", str(root), "--json", str(tmp_path)])
    assert f"--json {tmp_path}: is a folder" in err
    done = tmp_path / "r.json"
    done.write_text("{}")
    err = _one_line_error(capsys, ["data", "verify", str(root), "--json", str(done)])
    assert "file exists; pass --overwrite" in err and done.read_text() == "{}"
    argv = ["data", "verify", str(root), "--json", str(done), "--overwrite", "--no-progress"]
    assert main(argv) == 0
    assert json.loads(done.read_text())["ok"]


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("--sample", "-1", "--sample must be >= 0, got -1"),
        ("--workers", "0", "--workers must be >= 1, got 0"),
        ("--workers", "-1", "--workers must be >= 1, got -1"),
        ("--max-listed", "-1", "--max-listed must be >= 0, got -1"),
    ],
)
def test_verify_refuses_bad_counts(
    root: Path, capsys: pytest.CaptureFixture, option: str, value: str, expected: str
) -> None:
    assert expected in _one_line_error(capsys, ["data", "verify", str(root), option, value])


@pytest.mark.parametrize("workers", ["0", "-1"])
def test_pack_refuses_bad_worker_counts(
    root: Path, capsys: pytest.CaptureFixture, workers: str
) -> None:
    err = _one_line_error(capsys, ["data", "pack", str(root), "--size", "8", "--workers", workers])
    assert f"--workers must be >= 1, got {workers}" in err
    assert not (root / ".celebalab_cache" / "packed_8_center.u8").exists()


@pytest.mark.parametrize(
    ("argv", "expected"),
    [(["--size", "0"], "--size must be >= 1, got 0"),
     (["--size", "5000"], "--size must be <= 4096, got 5000"),
     (["--crop", "left"], "--crop must be one of center, none, not 'left'")],
)  # fmt: skip
def test_pack_options_are_refused_in_one_line(
    root: Path, capsys: pytest.CaptureFixture, argv: list[str], expected: str
) -> None:
    """data pack's flags come from PackOptions: a bad one is one line, nothing packed."""
    assert expected in _one_line_error(capsys, ["data", "pack", str(root), *argv])
    assert not (root / ".celebalab_cache").exists()


def test_verify_and_pack_options_refuse_what_they_do_not_know(root: Path) -> None:
    """The same dataclasses check the library functions and refuse unknown keys."""
    with pytest.raises(ConfigError, match="--max-listed must be >= 0, got -1"):
        verify_dataset(root, max_listed=-1)
    with pytest.raises(ConfigError, match="--workers must be >= 1, got 0"):
        pack_images(root, 8, workers=0)
    with pytest.raises(ConfigError, match="unknown verification option"):
        VerifyOptions.from_dict({"samples": 3})
    with pytest.raises(ConfigError, match="unknown packing option"):
        PackOptions.from_dict({"side": 64})
    assert VerifyOptions.from_dict({"sample": 3}).sample == 3


def test_unreadable_attribute_file_is_a_dataset_error(
    root: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    attr = root / "list_attr_celeba.txt"
    real_read_bytes = Path.read_bytes

    def read_bytes(path: Path) -> bytes:  # tests run as root: chmod cannot deny a read
        if path.name == attr.name:
            raise PermissionError(13, "Permission denied", str(path))
        return real_read_bytes(path)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    err = _one_line_error(capsys, ["data", "info", str(root)])
    assert f"{attr}: cannot read the file (permission denied)" in err
    report = verify_dataset(root)
    assert report.totals.get("check_failed", 0) == 0
    assert report.problems["annotations"] == [
        f"{attr}: cannot read the file (permission denied); check that it is a readable file"
    ]
    assert "extra_images" not in report.totals  # not 10 "file not in annotations" lines


def test_unreadable_file_while_fingerprinting_the_cache(
    root: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def denied(path: object, mode: str = "r") -> None:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(table_module, "open", denied, raising=False)
    err = _one_line_error(capsys, ["data", "info", str(root)])
    assert ": cannot read the file (permission denied)" in err


# ------------------------------------------------------------ item 4: synth never overwrites


def test_synth_refuses_a_file_and_an_existing_dataset(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    small = ["--n", "6", "--n-hq", "2", "--hq-size", "32", "--aligned-size", "32x40"]
    small += ["--workers", "1"]
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert "is a file, not a folder" in _one_line_error(
        capsys, ["data", "synth", str(a_file), *small]
    )
    out = tmp_path / "synth"
    assert main(["data", "synth", str(out), *small]) == 0
    images = sorted((out / "CelebA" / "img_align_celeba").iterdir())
    err = _one_line_error(capsys, ["data", "synth", str(out), *small, "--n", "3"])
    assert "a dataset is already there; pass --overwrite" in err
    assert sorted((out / "CelebA" / "img_align_celeba").iterdir()) == images
    assert main(["data", "synth", str(out), *small, "--n", "3", "--overwrite"]) == 0
    assert len(list((out / "CelebA" / "img_align_celeba").iterdir())) == 3
    theirs = tmp_path / "theirs"
    write_official(theirs / "CelebA", celeba_truth(4))
    err = _one_line_error(capsys, ["data", "synth", str(theirs), *small, "--overwrite"])
    assert "was not written by data synth" in err
    assert len(list((theirs / "CelebA" / "img_align_celeba").iterdir())) == 4


# ------------------------------------------------------------ item 6: paths from annotations


@pytest.mark.parametrize("bad_id", ["../../elsewhere/000003.jpg", "sub\\000003.jpg", ".000003.jpg"])
def test_image_ids_must_be_plain_file_names(root: Path, bad_id: str) -> None:
    attr = root / "list_attr_celeba.txt"
    attr.write_bytes(attr.read_bytes().replace(b"000003.jpg", bad_id.encode()))
    with pytest.raises(DataFormatError) as caught:
        load_table(root)
    assert caught.value.path == attr and caught.value.line == 5  # count, header, rows 1, 2, 3
    assert "expected a plain file name" in caught.value.problem
    assert repr(bad_id) in str(caught.value)
    report = verify_dataset(root)
    assert any(f"{attr}:5: image_id" in m for m in report.problems["annotations"])


def test_a_folder_where_the_partition_file_should_be(
    root: Path, capsys: pytest.CaptureFixture
) -> None:
    partition = root / "list_eval_partition.txt"
    partition.unlink()
    partition.mkdir()
    report = verify_dataset(root)
    assert not report.ok
    assert report.problems["layout"] == [
        f"{partition}: is a folder, not an annotation file; replace it with the file or remove it"
    ]
    assert f"{partition}: is a folder" in _one_line_error(capsys, ["data", "info", str(root)])


# ------------------------------------------------------------ item 7: stale cache


def test_an_edit_that_keeps_size_and_mtime_is_seen(root: Path) -> None:
    attr = root / "list_attr_celeba.txt"
    before = load_table(root)
    stat = attr.stat()
    lines = attr.read_bytes().split(b"\r\n")
    row = lines[2]  # 000001.jpg, Smiling flipped in place: "  1" <-> " -1" (same size)
    column = ATTRIBUTE_NAMES.index("Smiling")
    start = len(b"000001.jpg") + 3 * column
    cell = row[start : start + 3]
    lines[2] = row[:start] + (b" -1" if cell == b"  1" else b"  1") + row[start + 3 :]
    attr.write_bytes(b"\r\n".join(lines))
    os.utime(attr, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert attr.stat().st_size == stat.st_size and attr.stat().st_mtime_ns == stat.st_mtime_ns
    after = load_table(root)
    assert after["Smiling"].iloc[0] == 1 - before["Smiling"].iloc[0]
    assert after["Smiling"].iloc[1:].equals(before["Smiling"].iloc[1:])


# ------------------------------------------------------------ item 8: messages that mislead


@pytest.mark.parametrize("suffix", [".txt", ".csv"])
def test_an_extra_header_name_is_named(tmp_path: Path, suffix: str) -> None:
    names = list(ATTRIBUTE_NAMES)
    names.insert(7, "Freckles")
    header = ",".join(["image_id", *names]) if suffix == ".csv" else " ".join(names) + " "
    text = header + "\n" if suffix == ".csv" else f"1\n{header}\n"
    path = tmp_path / f"list_attr_celeba{suffix}"
    path.write_text(text + "000001.jpg" + (",1" if suffix == ".csv" else " 1") * 41 + "\n")
    with pytest.raises(DataFormatError) as caught:
        read_annotation(path, "attributes")
    assert "'Freckles'" in caught.value.problem and "5_o_Clock_Shadow" not in caught.value.problem


@pytest.mark.parametrize("suffix", [".txt", ".csv"])
def test_random_bytes_are_not_called_a_csv_file(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"list_attr_celeba{suffix}"
    path.write_bytes(os.urandom(40_000))
    with pytest.raises(DataFormatError) as caught:
        read_annotation(path, "attributes")
    assert "binary data, not a text annotation file" in caught.value.problem
    assert "CSV" not in caught.value.problem and ".txt" not in caught.value.problem


def test_utf16_text_is_named(tmp_path: Path) -> None:
    path = tmp_path / "list_eval_partition.txt"
    path.write_text("000001.jpg 0\r\n", encoding="utf-16")
    with pytest.raises(DataFormatError, match="UTF-16 text: save the file as UTF-8"):
        read_annotation(path, "partition")


def test_cr_only_line_endings_are_read(tmp_path: Path) -> None:
    truth = celeba_truth(5)
    text = official_texts(truth)["list_attr_celeba.txt"].replace("\r\n", "\r")
    path = tmp_path / "list_attr_celeba.txt"
    path.write_bytes(text.encode())
    frame = read_annotation(path, "attributes")
    pd.testing.assert_frame_equal(frame, truth[["image_id", *ATTRIBUTE_NAMES]])


def test_image_errors_name_the_reason_not_a_trailing_colon(root: Path, tmp_path: Path) -> None:
    folder = root / "img_align_celeba" / "000003.jpg"
    folder.unlink()
    folder.mkdir()
    report = verify_dataset(root)
    assert report.problems["unreadable_images"] == [f"{folder}: is a directory, not an image file"]
    denied = tmp_path / "x.jpg"
    denied.write_bytes(b"\xff\xd8")
    text = image_error_text(denied, PermissionError(13, "Permission denied", str(denied)))
    assert text == "permission denied"


def test_a_header_error_is_not_followed_by_every_image_as_extra(root: Path) -> None:
    attr = root / "list_attr_celeba.txt"
    attr.write_bytes(attr.read_bytes().replace(b"Smiling", b"Smilling", 1))
    report = verify_dataset(root)
    assert report.totals["annotations"] == 1 and "'Smilling'" in report.problems["annotations"][0]
    assert report.totals.get("extra_images", 0) == 0
    assert report.counts["missing_and_extra_images"].startswith("not checked")
    assert report.counts["images_decoded"] == 10  # the images themselves are still checked


@pytest.mark.parametrize("quoting", [csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC])
def test_kaggle_csv_with_standard_quoting(tmp_path: Path, quoting: int) -> None:
    truth = celeba_truth(6)
    plain = load_table(write_kaggle(tmp_path / "plain", truth))
    quoted = write_kaggle(tmp_path / "quoted", truth)
    for path in quoted.glob("*.csv"):
        pd.read_csv(path).to_csv(path, index=False, quoting=quoting)
    assert b'"5_o_Clock_Shadow"' in (quoted / "list_attr_celeba.csv").read_bytes()
    assert b'"000001.jpg"' in (quoted / "list_eval_partition.csv").read_bytes()
    pd.testing.assert_frame_equal(load_table(quoted), plain)
