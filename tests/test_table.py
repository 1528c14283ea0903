"""Metadata table: official == Kaggle, CelebAMask-HQ partitions, Parquet cache hit/invalidation."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from celeba_trees import celeba_truth, official_texts, write_hq, write_kaggle, write_official
from celebalab.datasets import table as table_module
from celebalab.datasets.schema import ATTRIBUTE_NAMES, BBOX_COLUMNS, LANDMARK_COLUMNS
from celebalab.datasets.table import load_table


def test_official_table_matches_truth(tmp_path: Path) -> None:
    truth = celeba_truth(10)
    root = write_official(tmp_path / "CelebA", truth)
    frame = load_table(root)
    expected = truth[
        ["image_id", "partition", "identity", *ATTRIBUTE_NAMES, *LANDMARK_COLUMNS, *BBOX_COLUMNS]
    ]
    pd.testing.assert_frame_equal(frame, expected, check_dtype=True)
    assert frame.attrs["dataset"] == "celeba" and frame.attrs["layout"] == "official"
    assert frame.attrs["root"] == str(root.resolve())
    assert frame.attrs["image_dir"] == str(root.resolve() / "img_align_celeba")


def test_kaggle_equals_official_except_identity(tmp_path: Path) -> None:
    truth = celeba_truth(8)
    official = load_table(write_official(tmp_path / "o", truth))
    kaggle = load_table(write_kaggle(tmp_path / "k", truth))
    assert kaggle.attrs["layout"] == "kaggle"
    assert (kaggle["identity"] == -1).all() and kaggle["identity"].dtype == np.int32
    pd.testing.assert_frame_equal(
        kaggle.drop(columns="identity"), official.drop(columns="identity")
    )


def test_kaggle_with_the_official_identity_file(tmp_path: Path) -> None:
    truth = celeba_truth(8)
    root = write_kaggle(tmp_path / "k", truth)
    (root / "identity_CelebA.txt").write_bytes(
        official_texts(truth)["identity_CelebA.txt"].encode()
    )
    kaggle = load_table(root)
    assert kaggle.attrs["layout"] == "kaggle"
    official = load_table(write_official(tmp_path / "o", truth))
    pd.testing.assert_frame_equal(kaggle, official)


def test_lf_and_anno_subdirs_give_same_table(tmp_path: Path) -> None:
    truth = celeba_truth(6)
    a = load_table(write_official(tmp_path / "a", truth))
    b = load_table(write_official(tmp_path / "b", truth, eol="\n", subdirs=True))
    pd.testing.assert_frame_equal(a, b)


def test_optional_files_absent(tmp_path: Path) -> None:
    root = write_official(tmp_path, celeba_truth(4))
    for name in ("list_eval_partition.txt", "identity_CelebA.txt", "list_bbox_celeba.txt"):
        (root / name).unlink()
    frame = load_table(root)
    assert (frame["partition"] == -1).all() and frame["partition"].dtype == np.int8
    assert "x_1" not in frame.columns and "lefteye_x" in frame.columns


def test_cache_hit_then_invalidated_by_a_changed_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    truth = celeba_truth(6)
    root = write_official(tmp_path, truth)
    parses = []
    real_build = table_module._build
    monkeypatch.setattr(
        table_module, "_build", lambda layout: parses.append(1) or real_build(layout)
    )
    first = load_table(root)
    assert (root / ".celebalab_cache" / "metadata.parquet").is_file()
    second = load_table(root)
    assert len(parses) == 1  # second open read the Parquet file
    pd.testing.assert_frame_equal(first, second)
    assert second.attrs == first.attrs

    truth.loc[0, "Smiling"] = 1 - truth.loc[0, "Smiling"]
    write_official(tmp_path, truth)  # rewrites the sources
    attr = root / "list_attr_celeba.txt"
    stat = attr.stat()
    os.utime(attr, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    third = load_table(root)
    assert len(parses) == 2
    assert third.loc[0, "Smiling"] == truth.loc[0, "Smiling"] != first.loc[0, "Smiling"]
    load_table(root, refresh=True)
    assert len(parses) == 3


def test_hq_partition_from_official_ranges(tmp_path: Path) -> None:
    truth = write_hq(tmp_path / "CelebAMask-HQ", n=8)
    frame = load_table(tmp_path / "CelebAMask-HQ")
    expected = np.digitize(truth["orig_idx"], [162_770, 182_637])
    np.testing.assert_array_equal(frame["partition"], expected)
    assert frame.attrs["partition_source"] == "official CelebA orig_idx ranges"
    assert (frame["identity"] == -1).all()
    np.testing.assert_array_equal(frame["hq_index"], np.arange(8))
    np.testing.assert_array_equal(frame["orig_idx"], truth["orig_idx"])
    assert frame["orig_file"].tolist() == [f"{o + 1:06d}.jpg" for o in truth["orig_idx"]]
    np.testing.assert_allclose(frame[["yaw", "pitch", "roll"]], truth[["yaw", "pitch", "roll"]])
    np.testing.assert_array_equal(frame[list(ATTRIBUTE_NAMES)], truth[list(ATTRIBUTE_NAMES)])
    assert frame.attrs["dataset"] == "celebamask_hq"


def test_hq_partition_and_identity_from_sibling_celeba(tmp_path: Path) -> None:
    hq_truth = write_hq(tmp_path / "CelebAMask-HQ", n=5)
    # A CelebA copy whose ids cover the HQ originals, with a partition unlike the ranges.
    truth = celeba_truth(1)
    rows = []
    for k, orig in enumerate(hq_truth["orig_idx"]):
        row = truth.iloc[0].copy()
        row["image_id"], row["partition"], row["identity"] = f"{orig + 1:06d}.jpg", k % 3, 100 + k
        rows.append(row)
    celeba = pd.DataFrame(rows).astype(truth.dtypes.to_dict())
    write_official(tmp_path / "CelebA", celeba)
    frame = load_table(tmp_path / "CelebAMask-HQ")
    assert frame["partition"].tolist() == [k % 3 for k in range(5)]
    assert frame["identity"].tolist() == [100 + k for k in range(5)]
    assert frame.attrs["partition_source"].startswith("CelebA ")
    explicit = load_table(tmp_path / "CelebAMask-HQ", celeba_root=tmp_path / "CelebA")
    pd.testing.assert_frame_equal(frame, explicit)
