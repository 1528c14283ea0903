"""``data verify`` / ``data info``: every problem category, exit codes, never a crash."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from celeba_trees import celeba_truth, write_hq, write_image, write_official
from celebalab.datasets.cli import app
from celebalab.datasets.masks import mask_path
from celebalab.datasets.verify import CATEGORIES, _completeness, dataset_info, verify_dataset

runner = CliRunner()


def test_clean_copy_exits_zero_and_writes_json(tmp_path: Path) -> None:
    truth = celeba_truth(10)
    root = write_official(tmp_path / "CelebA", truth)
    out = tmp_path / "report.json"
    result = runner.invoke(app, ["verify", str(root), "--json", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "OK" in result.output
    report = json.loads(out.read_text())
    assert report["ok"] and report["layout"] == "official"
    assert report["counts"]["partitions"] == {"train": 6, "val": 2, "test": 2}
    assert report["counts"]["identities"] == truth["identity"].nunique()
    assert report["counts"]["images_decoded"] == 10
    assert set(report["totals"]) == set(CATEGORIES) and not any(report["totals"].values())


def test_missing_extra_truncated_and_bad_rows(tmp_path: Path) -> None:
    root = write_official(tmp_path, celeba_truth(12))
    images = root / "img_align_celeba"
    (images / "000004.jpg").unlink()
    write_image(images / "999999.jpg", 1)
    bad = images / "000007.jpg"
    bad.write_bytes(bad.read_bytes()[:150])
    (images / "000008.jpg").write_bytes(b"not an image at all")
    attr = root / "list_attr_celeba.txt"
    lines = attr.read_bytes().split(b"\r\n")
    lines[0] = b"13"
    lines[11] = lines[11] + b" 1"  # row 10 (line 12): an extra field
    lines[12] = lines[12].replace(b"-1", b"-7", 1)  # row 11 (line 13)
    attr.write_bytes(b"\r\n".join(lines))
    out = tmp_path / "r.json"
    result = runner.invoke(app, ["verify", str(root), "--json", str(out), "--no-progress"])
    assert result.exit_code == 1, result.output
    report = json.loads(out.read_text())
    totals, problems = report["totals"], report["problems"]
    assert (
        totals["missing_images"] == 1
        and "000004.jpg: annotated but no file" in problems["missing_images"][0]
    )
    # the images of malformed rows are annotated (on a bad line, reported once): not extra
    assert problems["extra_images"] == [f"{images / '999999.jpg'}: file not in annotations"]
    assert totals["unreadable_images"] == 2
    assert any("000007.jpg" in p and "truncated" in p for p in problems["unreadable_images"])
    annotation = "\n".join(problems["annotations"])
    assert f"{attr}:1: count line says 13 rows but the file has 12" in annotation
    assert f"{attr}:12: expected 41 fields, found 42" in annotation
    assert f"{attr}:13:" in annotation and "found '-7'" in annotation
    # nor are they reported again as missing from the attribute file
    assert "not in the attribute file" not in annotation and totals["annotations"] == 3
    assert "missing images: 1" in result.output and "000004.jpg" in result.output


def test_sample_decodes_a_subset(tmp_path: Path) -> None:
    root = write_official(tmp_path, celeba_truth(12))
    report = verify_dataset(root, sample=5)
    assert report.ok and report.counts["images_decoded"] == 5


def test_process_pool_path_finds_the_same(tmp_path: Path) -> None:
    root = write_official(tmp_path, celeba_truth(300))
    bad = root / "img_align_celeba" / "000150.jpg"
    bad.write_bytes(bad.read_bytes()[:100])
    report = verify_dataset(root, workers=2)
    assert report.totals["unreadable_images"] == 1
    assert "000150.jpg" in report.problems["unreadable_images"][0]


def test_hq_masks_wrong_size_missing_and_unknown(tmp_path: Path) -> None:
    root = tmp_path / "hq"
    write_hq(root, n=5, mask_size=16)
    Image.fromarray(np.zeros((20, 20), np.uint8)).save(mask_path(root, 1, "skin"))
    for part in ("skin", "hair", "l_eye", "eye_g", "hat"):
        mask_path(root, 3, part).unlink()
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(mask_path(root, 2, "lips"))
    misplaced = root / "CelebAMask-HQ-mask-anno" / "1" / "00004_nose.png"
    misplaced.parent.mkdir()
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(misplaced)
    report = verify_dataset(root)
    assert not report.ok
    assert report.totals["masks_wrong_size"] == 1
    assert (
        "00001_skin.png: 20x20, the other masks are 16x16" in report.problems["masks_wrong_size"][0]
    )
    assert (
        report.totals["images_without_mask"] == 1
        and "3.jpg" in report.problems["images_without_mask"][0]
    )
    assert report.problems["unknown_mask_files"] == [
        f"{mask_path(root, 2, 'lips')}: unknown mask class 'lips'; did you mean 'u_lip', 'l_lip'?"
    ]
    assert "belongs in folder 0" in report.problems["misplaced_mask_files"][0]
    assert report.counts["partition_source"] == "official CelebA orig_idx ranges"
    assert sum(report.counts["partitions"].values()) == 5


@pytest.mark.parametrize(
    "garbage",
    [b"", b"\x00\xff" * 50, b"202599\r\n", "é ü\n".encode("latin-1"), b"a b c\n" * 5],
)
def test_never_crashes_on_garbage_files(tmp_path: Path, garbage: bytes) -> None:
    root = write_official(tmp_path, celeba_truth(4))
    for name in ("list_attr_celeba.txt", "list_eval_partition.txt", "list_bbox_celeba.txt"):
        (root / name).write_bytes(garbage)
    result = runner.invoke(app, ["verify", str(root), "--no-progress"])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_layout_problem_is_reported_not_raised(tmp_path: Path) -> None:
    result = runner.invoke(app, ["verify", str(tmp_path), "--no-progress"])
    assert result.exit_code == 1 and "not a CelebA or CelebAMask-HQ folder" in result.output


def test_info(tmp_path: Path) -> None:
    truth = celeba_truth(10)
    root = write_official(tmp_path, truth)
    info = dataset_info(root)
    assert info["images"] == 10 and info["layout"] == "official"
    assert info["first_image"] == "000001.jpg: 18x22"
    means = truth.iloc[:, 3:43].mean()
    assert max(info["most_frequent"].values()) == pytest.approx(means.max(), abs=1e-4)
    result = runner.invoke(app, ["info", str(root)])
    assert result.exit_code == 0 and "000001.jpg: 18x22" in result.output


def test_hq_with_a_bad_annotation_file_still_checks_images(tmp_path: Path) -> None:
    root = tmp_path / "CelebAMask-HQ"
    write_hq(root, n=4)
    pose = root / "CelebAMask-HQ-pose-anno.txt"
    pose.write_bytes(pose.read_bytes().replace(b"2.jpg ", b"2.jpg x ", 1))
    (root / "CelebA-HQ-img" / "1.jpg").unlink()
    # A broken CelebA copy beside it, read only for the HQ partitions: named, not a crash.
    celeba = write_official(tmp_path / "CelebA", celeba_truth(3))
    (celeba / "list_eval_partition.txt").write_bytes(b"000001.jpg 7\r\n")
    report = verify_dataset(root)
    assert report.totals.get("check_failed", 0) == 0, report.problems.get("check_failed")
    annotations = report.problems["annotations"]
    assert sum(str(pose) in p for p in annotations) == 1 and f"{pose}:5:" in annotations[0]
    assert any(f"{celeba / 'list_eval_partition.txt'}:1:" in p for p in annotations)
    assert report.problems["missing_images"] == [
        f"{root / 'CelebA-HQ-img' / '1.jpg'}: annotated but no file"
    ]
    assert report.totals["images_without_mask"] == 0


def test_completeness_against_the_official_release() -> None:
    # The official sizes as published (tests/data/formats/README.md), typed independently.
    full = {"annotated_images": 202_599, "partitions": {"train": 162_770, "val": 19_867}}
    full["partitions"]["test"] = 19_962
    assert _completeness("celeba", full).startswith("complete: 202,599 images")
    moved = {**full, "partitions": {"train": 162_771, "val": 19_866, "test": 19_962}}
    assert "partitions differ" in _completeness("celeba", moved)
    assert _completeness("celeba", {"annotated_images": 40}).endswith("40 of 202,599 images")
    hq = {"annotated_images": 30_000, "partitions": {"train": 24_183, "val": 2_993, "test": 2_824}}
    assert _completeness("celebamask_hq", hq).startswith("complete: 30,000 images")


def test_empty_and_non_image_files_are_named_plainly(tmp_path: Path) -> None:
    root = write_official(tmp_path, celeba_truth(4))
    empty, text = root / "img_align_celeba" / "000002.jpg", root / "img_align_celeba" / "000003.jpg"
    empty.write_bytes(b"")
    text.write_bytes(b"not an image")
    report = verify_dataset(root)
    assert report.problems["unreadable_images"] == [
        f"{empty}: empty file (0 bytes)",
        f"{text}: cannot identify image file",  # Pillow's words, without the path repeated
    ]
