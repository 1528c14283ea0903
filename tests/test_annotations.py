"""Annotation parsers: the published samples, every line-ending/spacing variant, every error."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from celeba_trees import celeba_truth, official_texts
from celebalab.datasets.annotations import parse_annotation, read_annotation
from celebalab.datasets.schema import ATTRIBUTE_NAMES
from celebalab.errors import DataFormatError

#: Copies of the real files' first lines (from the project's shared/formats notes).
FORMATS = Path(__file__).parent / "data" / "formats"


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode())
    return path


def _attr_file(tmp_path: Path, truth: pd.DataFrame, eol: str = "\r\n") -> Path:
    return _write(
        tmp_path, "list_attr_celeba.txt", official_texts(truth, eol)["list_attr_celeba.txt"]
    )


def test_published_samples_parse_with_reference_values() -> None:
    # Independent reference: Python's own whitespace split of the sample rows.
    path = FORMATS / "celeba" / "list_attr_celeba.head.txt"
    lines = path.read_text().splitlines()
    result = parse_annotation(path, "attributes")
    frame = result.frame
    expected = np.array([[int(v) for v in line.split()[1:]] for line in lines[2:]]) > 0
    assert frame["image_id"].tolist() == [line.split()[0] for line in lines[2:]]
    np.testing.assert_array_equal(frame[list(ATTRIBUTE_NAMES)].to_numpy(), expected)
    assert all(frame[a].dtype == np.uint8 for a in ATTRIBUTE_NAMES)
    # The head file keeps the real count line (202599): exactly that problem, on line 1.
    assert [(p.line, "count line says 202599" in p.problem) for p in result.problems] == [(1, True)]

    csv = read_annotation(FORMATS / "celeba" / "list_attr_celeba.head.csv", "attributes")
    pd.testing.assert_frame_equal(csv, frame.iloc[: len(csv)])


def test_hq_samples_pose_and_mapping() -> None:
    pose = read_annotation(FORMATS / "celebamask_hq" / "CelebAMask-HQ-pose-anno.head.txt", "pose")
    assert list(pose.columns) == ["image_id", "yaw", "pitch", "roll"]
    np.testing.assert_allclose(pose.iloc[0, 1:].astype(float), [-16.76165, -3.5406952, -0.46829224])
    mapping = read_annotation(
        FORMATS / "celebamask_hq" / "CelebA-HQ-to-CelebA-mapping.head.txt", "hq_mapping"
    )
    assert mapping.iloc[1].tolist() == [1, 99094, "099095.jpg"]
    hq = parse_annotation(
        FORMATS / "celebamask_hq" / "CelebAMask-HQ-attribute-anno.head.txt", "attributes"
    )
    assert hq.frame["image_id"].iloc[0] == "0.jpg" and len(hq.frame) == 10


@pytest.mark.parametrize("eol", ["\r\n", "\n"])
def test_line_endings_and_spacing(tmp_path: Path, eol: str) -> None:
    truth = celeba_truth(9)
    texts = official_texts(truth, eol)
    for name, kind in [
        ("list_attr_celeba.txt", "attributes"),
        ("list_bbox_celeba.txt", "bbox"),
        ("list_landmarks_align_celeba.txt", "landmarks"),
        ("list_eval_partition.txt", "partition"),
        ("identity_CelebA.txt", "identity"),
    ]:
        frame = read_annotation(_write(tmp_path, name, texts[name]), kind)
        columns = [c for c in frame.columns]
        pd.testing.assert_frame_equal(frame, truth[columns], check_dtype=True)


def test_tabs_double_spaces_and_missing_final_newline(tmp_path: Path) -> None:
    text = "2\r\nimage_id  x_1\ty_1 width height  \r\n000001.jpg\t95   71 226 313 \r\n"
    text += "000002.jpg 1 2 3 4"  # no final newline
    frame = read_annotation(_write(tmp_path, "b.txt", text), "bbox")
    assert frame.iloc[:, 1:].to_numpy().tolist() == [[95, 71, 226, 313], [1, 2, 3, 4]]


def test_header_in_any_order_is_reordered(tmp_path: Path) -> None:
    truth = celeba_truth(5)
    order = list(reversed(ATTRIBUTE_NAMES))
    values = np.where(truth[order].to_numpy() > 0, 1, -1)
    text = (
        "5\r\n"
        + " ".join(order)
        + " \r\n"
        + "".join(
            i + "".join(f"{v:3d}" for v in row) + "\r\n"
            for i, row in zip(truth["image_id"], values, strict=True)
        )
    )
    frame = read_annotation(_write(tmp_path, "a.txt", text), "attributes")
    pd.testing.assert_frame_equal(frame, truth[["image_id", *ATTRIBUTE_NAMES]])


def _error(path: Path, kind: str = "attributes") -> DataFormatError:
    with pytest.raises(DataFormatError) as info:
        read_annotation(path, kind)
    return info.value


def test_count_mismatch_names_file_and_line(tmp_path: Path) -> None:
    path = _attr_file(tmp_path, celeba_truth(6))
    data = path.read_bytes().replace(b"6\r\n", b"7\r\n", 1)
    path.write_bytes(data)
    err = _error(path)
    assert (err.path, err.line) == (path, 1)
    assert str(err) == f"{path}:1: count line says 7 rows but the file has 6"


def test_unknown_attribute_name_suggests(tmp_path: Path) -> None:
    path = _attr_file(tmp_path, celeba_truth(3))
    path.write_bytes(path.read_bytes().replace(b"Smiling", b"Smilling"))
    err = _error(path)
    assert err.line == 2
    assert "unknown attribute 'Smilling'" in err.problem and "'Smiling'" in err.problem


def test_missing_and_repeated_header_names(tmp_path: Path) -> None:
    path = _attr_file(tmp_path, celeba_truth(3))
    path.write_bytes(path.read_bytes().replace(b"Young ", b"Male "))
    assert "header names 'Male' twice" in _error(path).problem


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (b"000004.jpg -1", b"000004.jpg  0", "5_o_Clock_Shadow: expected -1 or 1, found '0'"),
        (b"000004.jpg -1", b"000004.jpg -1 1", "expected 41 fields, found 42"),
        (b"000004.jpg -1", b"000004.jpg", "expected 41 fields, found 40"),
        (b"000004.jpg -1", b"000003.jpg -1", "duplicate id '000003.jpg' (first on line 5)"),
        (b"000004.jpg -1", b"000004.jpg x1", "expected -1 or 1, found 'x1'"),
    ],
)
def test_row_errors_name_the_line(tmp_path: Path, old: bytes, new: bytes, message: str) -> None:
    truth = celeba_truth(6)
    truth.loc[3, "5_o_Clock_Shadow"] = 0  # row 4 starts with -1
    path = _attr_file(tmp_path, truth)
    path.write_bytes(path.read_bytes().replace(old, new))
    err = _error(path)
    assert err.line == 6  # count line, header, then rows 1..: row 4 is line 6
    assert message in err.problem


def test_all_problems_are_collected_and_capped(tmp_path: Path) -> None:
    truth = celeba_truth(30)
    path = _attr_file(tmp_path, truth)
    lines = path.read_bytes().split(b"\r\n")
    for k in range(3, 30, 2):  # 14 broken rows
        lines[k] = lines[k].replace(b" 1", b" 2", 1).replace(b"-1", b"-2", 1)
    path.write_bytes(b"\r\n".join(lines))
    result = parse_annotation(path, "attributes", max_problems=5)
    assert result.num_problems >= 14
    lines_reported = [p.line for p in result.problems]
    assert len(lines_reported) == 5
    assert lines_reported == sorted(lines_reported) and lines_reported[0] == 4
    assert len(result.frame) == 30 - 14  # clean rows survive for counting


def test_partition_values_and_integer_overflow(tmp_path: Path) -> None:
    err = _error(_write(tmp_path, "p.txt", "000001.jpg 0\r\n000002.jpg 3\r\n"), "partition")
    assert (err.line, err.problem) == (2, "partition: expected 0 or 1 or 2, found '3'")
    text = (
        "1\nlefteye_x lefteye_y righteye_x righteye_y nose_x nose_y leftmouth_x leftmouth_y "
        "rightmouth_x rightmouth_y\n000001.jpg 1 2 3 4 5 6 7 8 9 99999\n"
    )
    err = _error(_write(tmp_path, "l.txt", text), "landmarks")
    assert err.line == 3 and "expected a int16" in err.problem


def test_missing_count_line_and_bad_float(tmp_path: Path) -> None:
    text = "Yaw Pitch Raw\n0.jpg 1 2 3\n1.jpg 4 5 x\n"
    result = parse_annotation(_write(tmp_path, "pose.txt", text), "pose")
    # One clear problem for the missing line; the rows are still read (and checked) after it.
    assert [(p.line, p.problem) for p in result.problems] == [
        (1, "the row-count line is missing: line 1 is already the header"),
        (3, "roll: expected a number, found 'x'"),
    ]
    assert result.frame["image_id"].tolist() == ["0.jpg"]
    err = _error(_write(tmp_path, "pose1.txt", "Pose\n0.jpg 1 2 3\n"), "pose")
    assert err.line == 1 and "number of rows on line 1" in err.problem
    err = _error(_write(tmp_path, "pose2.txt", "1\nYaw Pitch Raw\n0.jpg 1 2 x\n"), "pose")
    assert (err.line, err.problem) == (3, "roll: expected a number, found 'x'")


def test_kaggle_csv_with_bom_and_crlf(tmp_path: Path) -> None:
    truth = celeba_truth(4)
    csv = "\ufeffimage_id,partition\r\n" + "".join(
        f"{i},{p}\r\n" for i, p in zip(truth["image_id"], truth["partition"], strict=True)
    )
    frame = read_annotation(_write(tmp_path, "list_eval_partition.csv", csv), "partition")
    pd.testing.assert_frame_equal(frame, truth[["image_id", "partition"]])


def test_empty_csv_field_is_reported(tmp_path: Path) -> None:
    err = _error(_write(tmp_path, "p.csv", "image_id,partition\n000001.jpg,\n"), "partition")
    assert err.line == 2 and re.search("expected 2 fields, found 1", err.problem)


def test_kaggle_and_official_file_formats_swapped(tmp_path: Path) -> None:
    truth = celeba_truth(3)
    official = official_texts(truth)["list_attr_celeba.txt"]
    err = _error(_write(tmp_path, "list_attr_celeba.csv", official))
    assert (err.line, err.problem) == (
        1,
        "line 1 is a row count: this is an official .txt file, not a Kaggle CSV file",
    )
    csv = "image_id,partition\r\n" + "".join(f"{i},0\r\n" for i in truth["image_id"])
    err = _error(_write(tmp_path, "list_eval_partition.txt", csv), "partition")
    assert err.line == 1 and "this is a Kaggle CSV file" in err.problem


@pytest.mark.parametrize("data", [b"", b"\r\n\r\n", b"\xef\xbb\xbf"])
def test_empty_file(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "list_attr_celeba.txt"
    path.write_bytes(data)
    err = _error(path)
    assert (err.line, err.problem) == (1, "file is empty")
