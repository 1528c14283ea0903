"""Masks: authors' painting order, the real 668.png label map, regions by name, resizing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from celeba_trees import write_hq
from celebalab.datasets.masks import (
    MaskIndex,
    combine_part_masks,
    label_map_to_color,
    load_label_map,
    mask_path,
    region_mask,
    resize_label_map,
)
from celebalab.datasets.schema import MASK_CLASS_VALUES, MASK_PART_NAMES
from celebalab.errors import CelebalabError, DataFormatError

LABEL_MAP_668 = Path(__file__).parent / "data/formats/celebamask_hq/label_maps/668.png"


def _box(shape: tuple[int, int], rows: slice, cols: slice) -> np.ndarray:
    mask = np.zeros(shape, dtype=np.uint8)
    mask[rows, cols] = 255
    return mask


def test_later_classes_win_in_authors_order() -> None:
    shape = (8, 8)
    parts = {  # deliberately given in a different order than the authors'
        "hat": _box(shape, slice(0, 2), slice(None)),
        "eye_g": _box(shape, slice(4, 6), slice(1, 7)),
        "hair": _box(shape, slice(0, 4), slice(None)),
        "l_eye": _box(shape, slice(4, 5), slice(2, 4)),
        "skin": _box(shape, slice(2, 8), slice(1, 7)),
    }
    label = combine_part_masks(parts)
    v = MASK_CLASS_VALUES
    assert label.dtype == np.uint8 and label.shape == shape
    assert label[0, 0] == v["hat"] == 14  # hat over hair
    assert label[3, 3] == v["hair"] == 13  # hair over skin
    assert label[4, 2] == v["l_eye"] == 4  # l_eye over eye_g
    assert label[5, 2] == v["eye_g"] == 3  # eye_g over skin
    assert label[7, 3] == v["skin"] and label[7, 0] == 0


def test_three_channel_and_any_nonzero_masks() -> None:
    rgb = np.zeros((4, 4, 3), dtype=np.uint8)
    rgb[1, 1, 2] = 1  # any non-zero channel counts
    label = combine_part_masks({"nose": rgb, "mouth": np.eye(4, dtype=bool)})
    assert label[1, 1] == MASK_CLASS_VALUES["mouth"]  # mouth (10) painted after nose (2)
    assert label[0, 0] == 10 and label[0, 1] == 0
    with pytest.raises(CelebalabError, match="unknown mask class 'hiar'; did you mean 'hair'"):
        combine_part_masks({"hiar": rgb})
    with pytest.raises(CelebalabError, match="differ in size"):
        combine_part_masks({"nose": rgb, "hair": np.zeros((2, 2))})


def test_authors_label_map_668_round_trip(tmp_path: Path) -> None:
    reference = np.asarray(Image.open(LABEL_MAP_668))
    assert reference.shape == (512, 512) and reference.max() <= 18
    present = {n: reference == v for n, v in MASK_CLASS_VALUES.items() if n != "background"}
    present = {n: m for n, m in present.items() if m.any()}
    assert len(present) >= 5
    np.testing.assert_array_equal(combine_part_masks(present), reference)
    # Write the parts as the dataset does (0/255 PNGs in folder 668 // 2000 = 0) and read back.
    for name, mask in present.items():
        path = mask_path(tmp_path, 668, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(mask.astype(np.uint8) * 255).save(path)
    assert mask_path(tmp_path, 668, "hair").name == "00668_hair.png"
    np.testing.assert_array_equal(load_label_map(tmp_path, 668), reference)
    small = load_label_map(tmp_path, 668, size=128)
    np.testing.assert_array_equal(small, reference[2::4, 2::4])  # nearest = centre samples
    # Regions by class name agree with the label values, independent of any other numbering.
    np.testing.assert_array_equal(region_mask(reference, "hair"), reference == 13)
    eyes = region_mask(reference, "eyes")
    np.testing.assert_array_equal(eyes, (reference == 4) | (reference == 5))
    colour = label_map_to_color(reference)
    assert colour.shape == (512, 512, 3) and colour.dtype == np.uint8
    assert len({tuple(c) for c in colour.reshape(-1, 3)}) == len(np.unique(reference))


def test_region_groups_override_and_unknown_region() -> None:
    label = np.array([[0, 1, 13], [4, 5, 14]], dtype=np.uint8)
    assert region_mask(label, "background").tolist() == [
        [True, False, False],
        [False, False, False],
    ]
    assert region_mask(label, "skin").tolist() == [[False, True, False], [False, False, False]]
    groups = {"top": ("hair", "hat")}
    assert region_mask(label, "top", groups).tolist() == [
        [False, False, True],
        [False, False, True],
    ]
    assert region_mask(label, "l_eye", groups).sum() == 1  # a class name is always a region
    with pytest.raises(CelebalabError, match="unknown region 'eyse'; did you mean 'eyes'"):
        region_mask(label, "eyse")
    with pytest.raises(CelebalabError, match="unknown mask class 'har'"):
        region_mask(label, "bad", {"bad": ("har",)})


def test_resize_is_nearest_and_center_crop() -> None:
    label = np.arange(12, dtype=np.uint8).reshape(4, 3)
    up = resize_label_map(label, (8, 6))
    assert set(np.unique(up)) == set(range(12))  # no blended values
    np.testing.assert_array_equal(up[::2, ::2], label)
    tall = np.arange(24, dtype=np.uint8).reshape(6, 4)
    cropped = resize_label_map(tall, 4, crop="center")
    np.testing.assert_array_equal(cropped, tall[1:5])  # the central 4×4 square, unscaled
    np.testing.assert_array_equal(resize_label_map(tall, 2, crop="center"), tall[1:5][1::2, 1::2])


def test_hq_files_unknown_class_and_missing(tmp_path: Path) -> None:
    write_hq(tmp_path, n=3, mask_size=16)
    label = load_label_map(tmp_path, 1, mask_index=MaskIndex(tmp_path))
    assert label[0, 0] == 14 and label[4, 3] == 13 and label[6, 4] == 4 and label[7, 3] == 3
    assert label[10, 5] == 1 and label[15, 0] == 0
    stray = mask_path(tmp_path, 2, "lip")
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(stray)
    with pytest.raises(DataFormatError) as info:
        load_label_map(tmp_path, 2)
    assert info.value.path == stray and "unknown mask class 'lip'" in str(info.value)
    with pytest.raises(DataFormatError, match="no mask file"):
        load_label_map(tmp_path, 7)
    assert set(MaskIndex(tmp_path).parts(0)) < set(MASK_PART_NAMES)


def test_bad_part_files_raise_naming_the_file(tmp_path: Path) -> None:
    write_hq(tmp_path, n=3, mask_size=16)
    odd = mask_path(tmp_path, 0, "hair")
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(odd)  # 8×8 among 16×16 parts
    with pytest.raises(DataFormatError) as info:
        load_label_map(tmp_path, 0)
    assert info.value.path == odd
    assert info.value.problem == "mask is 8x8, the other masks of this image are 16x16"
    empty = mask_path(tmp_path, 1, "skin")
    empty.write_bytes(b"")
    with pytest.raises(DataFormatError) as info:
        load_label_map(tmp_path, 1)
    assert info.value.path == empty
    assert info.value.problem == "cannot read mask: empty file (0 bytes)"
    cut = mask_path(tmp_path, 2, "skin")
    cut.write_bytes(cut.read_bytes()[:60])
    with pytest.raises(DataFormatError) as info:
        load_label_map(tmp_path, 2)
    assert info.value.path == cut and info.value.problem.startswith("cannot read mask: ")
