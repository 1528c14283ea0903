"""Layout detection: the three layouts, folder too high/low, and each clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from celeba_trees import celeba_truth, write_hq, write_image, write_kaggle, write_official
from celebalab.datasets.layout import detect_layout
from celebalab.errors import DatasetLayoutError


def _error(root: Path) -> str:
    with pytest.raises(DatasetLayoutError) as info:
        detect_layout(root)
    message = str(info.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("subdirs", [False, True])
def test_official_flat_and_anno_eval(tmp_path: Path, subdirs: bool) -> None:
    root = write_official(tmp_path / "CelebA", celeba_truth(4), subdirs=subdirs)
    layout = detect_layout(root)
    assert (layout.kind, layout.dataset, layout.image_ext) == ("official", "celeba", ".jpg")
    assert set(layout.files) == {"attributes", "partition", "identity", "bbox", "landmarks"}
    assert layout.files["partition"].parent.name == ("Eval" if subdirs else "CelebA")
    assert layout.image_path("000002.jpg") == root / "img_align_celeba" / "000002.jpg"


def test_png_variant_maps_jpg_ids_to_png_files(tmp_path: Path) -> None:
    root = write_official(
        tmp_path, celeba_truth(3), image_folder="img_align_celeba_png", ext=".png"
    )
    layout = detect_layout(root)
    assert layout.image_path("000003.jpg") == root / "img_align_celeba_png" / "000003.png"


def test_kaggle(tmp_path: Path) -> None:
    root = write_kaggle(tmp_path / "kaggle", celeba_truth(3))
    layout = detect_layout(root)
    assert layout.kind == "kaggle" and "identity" not in layout.files
    assert layout.image_dir == root / "img_align_celeba" / "img_align_celeba"


def test_hq(tmp_path: Path) -> None:
    write_hq(tmp_path / "hq", n=2)
    layout = detect_layout(tmp_path / "hq")
    assert (layout.kind, layout.dataset) == ("celebamask_hq", "celebamask_hq")
    assert set(layout.files) == {"attributes", "pose", "hq_mapping"}
    assert layout.mask_dir == tmp_path / "hq" / "CelebAMask-HQ-mask-anno"


def test_one_folder_too_low_or_too_high(tmp_path: Path) -> None:
    root = write_official(tmp_path / "data" / "CelebA", celeba_truth(3), subdirs=True)
    assert detect_layout(root / "img_align_celeba").root == root
    assert detect_layout(root / "Anno").root == root
    assert detect_layout(tmp_path / "data").root == root
    kaggle = write_kaggle(tmp_path / "k", celeba_truth(2))
    assert detect_layout(kaggle / "img_align_celeba" / "img_align_celeba").root == kaggle


def test_two_datasets_below_is_ambiguous(tmp_path: Path) -> None:
    write_official(tmp_path / "CelebA", celeba_truth(2))
    write_hq(tmp_path / "CelebAMask-HQ", n=1)
    message = _error(tmp_path)
    assert "several datasets" in message and "CelebA, CelebAMask-HQ" in message


def test_wrong_folder_says_what_was_expected(tmp_path: Path) -> None:
    (tmp_path / "photos").mkdir()
    write_image(tmp_path / "photos" / "a.jpg", 0)
    message = _error(tmp_path / "photos")
    assert "is not a CelebA or CelebAMask-HQ folder" in message
    assert "list_attr_celeba.txt" in message and "CelebA-HQ-img/" in message
    assert "no such folder" in _error(tmp_path / "nope")


def test_kaggle_and_official_together_reads_the_official_files(tmp_path: Path) -> None:
    truth = celeba_truth(2)
    write_official(tmp_path, truth)
    write_kaggle(tmp_path, truth)
    layout = detect_layout(tmp_path)
    assert layout.kind == "official"
    assert {p.suffix for p in layout.files.values()} == {".txt"}
    assert set(layout.copies) == {"attributes", "partition", "bbox", "landmarks"}
    assert "official txt files" in layout.annotation_set
    assert "list_attr_celeba.csv" in layout.annotation_set


def test_zip_not_extracted(tmp_path: Path) -> None:
    root = write_official(tmp_path, celeba_truth(2))
    for image in (root / "img_align_celeba").iterdir():
        image.unlink()
    (root / "img_align_celeba").rmdir()
    (root / "img_align_celeba.zip").write_bytes(b"PK")
    message = _error(root)
    assert message.startswith(f"{root / 'img_align_celeba.zip'} is not extracted: unzip it")


def test_only_a_zip(tmp_path: Path) -> None:
    (tmp_path / "img_align_celeba.zip").write_bytes(b"PK")
    assert "is not extracted" in _error(tmp_path)


def test_empty_image_folder(tmp_path: Path) -> None:
    root = write_official(tmp_path, celeba_truth(2))
    for image in (root / "img_align_celeba").iterdir():
        image.unlink()
    message = _error(root)
    assert message == f"image folder {root / 'img_align_celeba'} contains no .jpg or .png images"


def test_unknown_archive_says_extract_it(tmp_path: Path) -> None:
    (tmp_path / "archive.zip").write_bytes(b"PK")  # the name of Kaggle's CelebA download
    message = _error(tmp_path)
    assert message == (
        f"{tmp_path} is not a CelebA or CelebAMask-HQ folder but holds archive.zip: "
        "extract the download first"
    )


def test_official_with_the_image_folder_doubled(tmp_path: Path) -> None:
    root = write_official(
        tmp_path, celeba_truth(2), image_folder="img_align_celeba/img_align_celeba"
    )
    inner = root / "img_align_celeba" / "img_align_celeba"
    layout = detect_layout(root)
    assert (layout.kind, layout.image_dir) == ("official", inner)
    assert detect_layout(inner).root == root
