"""The Dataset handle: typed attributes, which images exist (one cached scan), the missing list."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from celeba_trees import celeba_truth, write_hq, write_official
from celebalab.datasets import dataset as dataset_module
from celebalab.datasets.dataset import Dataset, open_dataset
from celebalab.datasets.schema import ATTRIBUTE_NAMES


@pytest.fixture
def celeba(tmp_path: Path) -> Path:
    return write_official(tmp_path / "CelebA", celeba_truth(10))


def _age(folder: Path, seconds: float = 3600.0) -> None:
    """Set ``folder``'s mtime in the past (a listing older than the racy window)."""
    stamp = int((os.stat(folder).st_mtime - seconds) * 1e9)
    os.utime(folder, ns=(stamp, stamp))


def test_typed_attributes(celeba: Path) -> None:
    data = open_dataset(celeba)
    table = data.table
    assert isinstance(data, Dataset) and open_dataset(data) is data
    assert (data.root, data.name, data.kind) == (celeba.resolve(), "celeba", "official")
    assert data.image_dir == celeba.resolve() / "img_align_celeba" and data.image_ext == ".jpg"
    assert data.partition_source == "partition file" == table.attrs["partition_source"]
    assert data.annotation_set == table.attrs["annotation_set"] == "official txt files"
    assert str(data.image_dir) == table.attrs["image_dir"]  # kept for older callers
    assert len(data) == 10 and list(data.image_ids) == table["image_id"].tolist()
    assert data.attributes.shape == (10, 40) and data.attributes.dtype == np.uint8
    np.testing.assert_array_equal(data.attributes, table[list(ATTRIBUTE_NAMES)].to_numpy())
    assert data.identity.dtype == np.int32 and data.partition.dtype == np.int8
    assert data.image_path(0) == data.image_dir / "000001.jpg"
    assert len(data.fingerprint) == 64 and open_dataset(celeba).fingerprint == data.fingerprint
    assert data.present.all() and data.presence_line() is None and data.missing_count == 0


def test_hq_dataset(tmp_path: Path) -> None:
    write_hq(tmp_path / "CelebAMask-HQ", n=4)
    data = open_dataset(tmp_path / "CelebAMask-HQ")
    assert (data.name, data.kind) == ("celebamask_hq", "celebamask_hq")
    assert data.mask_dir is not None and data.present.all()


def test_partial_copy_is_one_line_and_one_file(
    celeba: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for image_id in ("000002.jpg", "000005.jpg", "000006.jpg"):
        (celeba / "img_align_celeba" / image_id).unlink()
    data = open_dataset(celeba)
    assert data.present.tolist() == [True, False, True, True, False, False, True, True, True, True]
    assert data.present_rows.tolist() == [0, 2, 3, 6, 7, 8, 9] and data.missing_count == 3
    assert data.only_present(np.array([5, 3, 1, 0])).tolist() == [3, 0]
    listed = data.missing_file.read_text().split()
    assert listed == ["000002.jpg", "000005.jpg", "000006.jpg"]
    assert data.presence_line() == (
        f"7 of 10 images present; 3 missing (listed in {data.missing_file})"
    )
    data.say_presence()
    data.say_presence()
    assert capsys.readouterr().err.count("\n") == 1  # once per Dataset, i.e. per command


def test_presence_is_cached_until_the_folder_changes(
    celeba: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = celeba / "img_align_celeba"
    (folder / "000003.jpg").unlink()
    _age(folder)
    assert open_dataset(celeba).missing_count == 1
    scans = []
    real = dataset_module._listing
    monkeypatch.setattr(dataset_module, "_listing", lambda p: scans.append(p) or real(p))
    assert open_dataset(celeba).missing_count == 1 and scans == []  # the cached bitmap
    (folder / "000004.jpg").unlink()  # the folder's mtime changes: rescanned
    assert open_dataset(celeba).missing_count == 2 and len(scans) == 1
    # modified just now: a change within the same timestamp tick could go unseen, so the
    # listing is not cached and the next open scans again
    assert open_dataset(celeba).missing_count == 2 and len(scans) == 2
    _age(folder)
    assert open_dataset(celeba).missing_count == 2 and len(scans) == 3  # scanned, now cached
    assert open_dataset(celeba).missing_count == 2 and len(scans) == 3
    (folder / "000004.jpg").write_bytes((folder / "000001.jpg").read_bytes())
    _age(folder, 60)
    data = open_dataset(celeba)
    assert data.missing_count == 1 and data.missing_file.read_text() == "000003.jpg\n"
