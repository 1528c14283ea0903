"""Issue 7 items 1–3: a Kaggle copy without its partition CSV, both annotation sets in one folder,
and ``stats`` sample faces drawn only from images that exist."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from celeba_trees import celeba_truth, write_image, write_kaggle, write_official
from celebalab.analysis._samples import cluster_image_strips
from celebalab.datasets.schema import ATTRIBUTE_NAMES, CELEBA_NUM_IMAGES, CELEBA_PARTITION_SIZES
from celebalab.datasets.table import load_table, official_partition
from celebalab.datasets.verify import verify_dataset
from celebalab.errors import DataFormatError

OFFICIAL_IDS = pd.Series([f"{i:06d}.jpg" for i in range(1, CELEBA_NUM_IMAGES + 1)])


# ------------------------------------------------------------ item 1: no partition file


def test_official_ranges_apply_to_exactly_the_official_ids() -> None:
    shuffled = OFFICIAL_IDS.sample(frac=1.0, random_state=0).reset_index(drop=True)
    source, codes = official_partition(shuffled)
    assert source.startswith("official CelebA index ranges")
    # independent reference: the published first/last image of each partition
    number = shuffled.str.slice(0, 6).astype(int).to_numpy()
    expected = np.select([number <= 162_770, number <= 182_637], [0, 1], 2)
    np.testing.assert_array_equal(codes, expected)
    counts = np.bincount(codes)
    assert counts.tolist() == [CELEBA_PARTITION_SIZES[s] for s in ("train", "val", "test")]


@pytest.mark.parametrize(
    "ids",
    [
        OFFICIAL_IDS.iloc[:-1],  # one image short
        pd.concat([OFFICIAL_IDS.iloc[:-1], pd.Series(["000001.jpg"])], ignore_index=True),
        OFFICIAL_IDS.str.replace(".jpg", ".png"),
        pd.Series([f"{i:06d}.jpg" for i in range(2, CELEBA_NUM_IMAGES + 2)]),
    ],
    ids=["short", "duplicate", "png names", "shifted"],
)
def test_other_ids_get_no_partition_and_a_reason(ids: pd.Series) -> None:
    source, codes = official_partition(ids)
    assert (codes == -1).all() and len(codes) == len(ids)
    assert source.startswith("none:") and "list_eval_partition" in source


def _kaggle_attributes_only(root: Path, n: int) -> None:
    """A Kaggle copy of ``n`` rows with only list_attr_celeba.csv (rows made with numpy)."""
    root.mkdir(parents=True)
    values = ",".join(["1", "-1"] * 20)
    ids = np.char.mod("%06d.jpg", np.arange(1, n + 1))
    body = "\n".join(np.char.add(ids, "," + values).tolist())
    (root / "list_attr_celeba.csv").write_text(f"image_id,{','.join(ATTRIBUTE_NAMES)}\n{body}\n")
    write_image(root / "img_align_celeba" / "img_align_celeba" / "000001.jpg", 0)


@pytest.mark.slow
def test_kaggle_copy_of_the_full_release_gets_the_official_split(tmp_path: Path) -> None:
    _kaggle_attributes_only(tmp_path / "k", CELEBA_NUM_IMAGES)
    table = load_table(tmp_path / "k")
    assert table.attrs["layout"] == "kaggle"
    assert table.attrs["partition_source"].startswith("official CelebA index ranges")
    counts = table["partition"].value_counts().sort_index().tolist()
    assert counts == [CELEBA_PARTITION_SIZES[s] for s in ("train", "val", "test")]
    assert load_table(tmp_path / "k").attrs["partition_source"] == table.attrs["partition_source"]


def test_kaggle_subset_without_partition_says_why(tmp_path: Path) -> None:
    _kaggle_attributes_only(tmp_path / "k", 12)
    table = load_table(tmp_path / "k")
    assert (table["partition"] == -1).all()
    assert "not the official 202,599" in table.attrs["partition_source"]
    cached = load_table(tmp_path / "k")  # the reason survives the Parquet cache
    assert cached.attrs["partition_source"] == table.attrs["partition_source"]


# ------------------------------------------------------------ item 2: both sets in one folder


def test_both_sets_that_agree_read_the_official_files(tmp_path: Path) -> None:
    truth = celeba_truth(10)
    both = write_kaggle(write_official(tmp_path / "both", truth), truth)
    table = load_table(both)
    pd.testing.assert_frame_equal(table, load_table(write_official(tmp_path / "o", truth)))
    assert table.attrs["layout"] == "official"
    assert "official txt files" in table.attrs["annotation_set"]
    assert "list_attr_celeba.csv" in table.attrs["annotation_set"]
    report = verify_dataset(both)
    assert report.ok, report.problems
    assert "official txt files" in report.counts["annotation_set"]


def test_first_disagreement_is_reported_as_file_and_line(tmp_path: Path) -> None:
    truth = celeba_truth(10)
    root = write_kaggle(write_official(tmp_path / "both", truth), truth)
    csv = root / "list_attr_celeba.csv"
    lines = csv.read_text().splitlines()
    fields = lines[4].split(",")  # row 4 (000004.jpg) on line 5
    column = ATTRIBUTE_NAMES.index("Smiling") + 1
    fields[column] = "1" if fields[column] == "-1" else "-1"
    lines[4] = ",".join(fields)
    csv.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFormatError) as caught:
        load_table(root)
    message = str(caught.value)
    assert message.startswith(f"{csv}:5: disagrees with {root / 'list_attr_celeba.txt'}:6")
    assert "Smiling is " in message and "fix or remove list_attr_celeba.csv" in message
    report = verify_dataset(root)
    assert any(m.startswith(f"{csv}:5:") for m in report.problems["annotations"])


def test_a_shorter_csv_copy_disagrees_at_its_end(tmp_path: Path) -> None:
    truth = celeba_truth(10)
    root = write_kaggle(write_official(tmp_path / "both", truth), truth)
    part = root / "list_eval_partition.csv"
    part.write_text("\n".join(part.read_text().splitlines()[:-2]) + "\n")
    with pytest.raises(DataFormatError, match=r"list_eval_partition\.csv:10: ends after 8 rows"):
        load_table(root)


# ------------------------------------------------------------ item 3: stats sample faces


def test_sample_faces_come_only_from_existing_images(tmp_path: Path) -> None:
    ids = [f"{i:06d}.jpg" for i in range(1, 41)]
    labels = np.repeat([0, 1], 20).astype(np.int32)
    folder = tmp_path / "img_align_celeba_png"
    present = ids[:5] + ids[30:33]  # cluster 0 has 5 images on disk, cluster 1 has 3
    for seed, image_id in enumerate(present):
        write_image(folder / image_id.replace(".jpg", ".png"), seed, (10, 12))
    strips, notes = cluster_image_strips(ids, labels, folder, per_cluster=4, image_ext=".png")
    assert not any("unreadable" in n for n in notes), notes
    assert "sample faces drawn from the 8 of 40 rows whose image file exists" in notes[0]
    # strip width = tiles (10 px wide at height 112: 93 px) + gaps: 4 faces, then the 3 there are
    tile = round(10 * 112 / 12)
    assert strips[0].shape[1] == 4 * tile + 3 * 4 and strips[1].shape[1] == 3 * tile + 2 * 4
    Image.fromarray(strips[1])  # a valid image


def test_a_cluster_without_any_image_file_is_noted(tmp_path: Path) -> None:
    folder = tmp_path / "imgs"
    write_image(folder / "000001.jpg", 0)
    strips, notes = cluster_image_strips(["000001.jpg", "000002.jpg"], np.array([0, 1]), folder)
    assert set(strips) == {0}
    assert any(n.startswith("cluster 1: no image file") for n in notes)
