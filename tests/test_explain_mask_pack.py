"""Label-map pack: same maps as reading the masks, resumable, images without masks listed."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from celebalab.datasets import mask_pack
from celebalab.datasets.mask_pack import PackedLabelMaps, pack_label_maps
from celebalab.datasets.masks import load_label_map, resize_label_map
from celebalab.datasets.table import load_table


@pytest.fixture()
def hq_copy(synth_root: Path, tmp_path: Path) -> Path:
    root = tmp_path / "hq"
    shutil.copytree(
        synth_root / "CelebAMask-HQ", root, ignore=shutil.ignore_patterns(".celebalab*")
    )
    return root


def test_hq_pack_equals_combined_masks_and_lists_images_without_masks(hq_copy: Path) -> None:
    for part in (hq_copy / "CelebAMask-HQ-mask-anno" / "0").glob("00003_*.png"):
        part.unlink()  # image 3 has no mask any more
    result = pack_label_maps(hq_copy, 32, "center")
    assert [m["image_id"] for m in result.missing] == ["3.jpg"]
    pack = PackedLabelMaps.open(hq_copy, 32, "center")
    table = load_table(hq_copy)
    assert (
        pack.labels.shape == (len(table), 32, 32)
        and not pack.valid[3]
        and pack.valid.sum() == len(table) - 1
    )
    for row in (0, 7, len(table) - 1):
        expected = resize_label_map(
            load_label_map(hq_copy, int(table["hq_index"][row])), 32, "center"
        )
        np.testing.assert_array_equal(pack.labels[row], expected)
    assert not pack.labels[3].any()
    assert pack_label_maps(hq_copy, 32, "center").reused


def test_synthetic_label_maps_and_resume_after_interruption(
    synth_root: Path, tmp_path: Path, monkeypatch
) -> None:
    root = tmp_path / "celeba"
    shutil.copytree(synth_root / "CelebA", root, ignore=shutil.ignore_patterns(".celebalab*"))
    monkeypatch.setattr(mask_pack, "CHUNK_SIZE", 16)
    real = mask_pack._Reader.__call__
    calls = {"n": 0}

    def dies_after_40(self, row):
        calls["n"] += 1
        if calls["n"] > 40:
            raise KeyboardInterrupt
        return real(self, row)

    monkeypatch.setattr(mask_pack._Reader, "__call__", dies_after_40)
    with pytest.raises(KeyboardInterrupt):
        pack_label_maps(root, 24, "center")
    assert PackedLabelMaps.open(root, 24, "center") is None  # no manifest: never read
    monkeypatch.setattr(mask_pack._Reader, "__call__", real)
    result = pack_label_maps(root, 24, "center")
    assert result.rows_packed == result.count - 32  # two finished chunks were kept
    pack = PackedLabelMaps.open(root, 24, "center")
    from PIL import Image

    first = np.asarray(Image.open(root / "synthetic_label_maps" / "000001.png"))
    np.testing.assert_array_equal(pack.labels[0], resize_label_map(first, 24, "center"))
    assert pack.valid.all()


def test_a_root_without_masks_is_one_clear_error(tmp_path: Path, synth_root: Path) -> None:
    root = tmp_path / "plain"
    shutil.copytree(
        synth_root / "CelebA", root, ignore=shutil.ignore_patterns("synthetic_*", ".celebalab*")
    )
    with pytest.raises(mask_pack.MaskPackError, match="no face-parsing masks"):
        pack_label_maps(root, 16)


def test_crash_between_final_rename_and_manifest_repacks_nothing(
    synth_root: Path, tmp_path: Path, monkeypatch
) -> None:
    root = tmp_path / "celeba"
    shutil.copytree(synth_root / "CelebA", root, ignore=shutil.ignore_patterns(".celebalab*"))

    monkeypatch.setattr(mask_pack, "write_json_atomic", _die_on_manifest(mask_pack))
    with pytest.raises(KeyboardInterrupt):
        pack_label_maps(root, 24, "center")
    paths = mask_pack.mask_pack_paths(root, 24, "center")
    assert paths.data.exists() and not paths.partial.exists() and paths.progress.exists()
    monkeypatch.undo()
    result = pack_label_maps(root, 24, "center")
    assert result.rows_packed == 0 and not result.reused
    assert PackedLabelMaps.open(root, 24, "center") is not None


def _die_on_manifest(module):
    real = module.write_json_atomic

    def write(path, data):
        if path.name.endswith(".progress.json"):
            return real(path, data)
        raise KeyboardInterrupt

    return write
