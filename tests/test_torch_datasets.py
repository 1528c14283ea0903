"""PyTorch datasets: sample contents vs the files, splits, resizing, masks, corrupt images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from celeba_trees import celeba_truth, write_hq, write_official
from celebalab.datasets.packed import pack_images
from celebalab.datasets.schema import ATTRIBUTE_NAMES
from celebalab.datasets.torch_datasets import CelebADataset, CelebAMaskHQDataset
from celebalab.errors import CelebalabError, DataFormatError


@pytest.fixture
def celeba(tmp_path: Path) -> tuple[Path, object]:
    truth = celeba_truth(10)
    return write_official(tmp_path / "CelebA", truth), truth


def test_samples_match_files_and_truth(celeba: tuple[Path, object]) -> None:
    root, truth = celeba
    train = CelebADataset(root, split="train", use_pack=False)
    assert len(train) == int((truth["partition"] == 0).sum())
    sample = train[2]
    assert set(sample) == {"image", "attributes", "identity", "index", "image_id"}
    assert sample["image"].dtype == torch.uint8 and sample["image"].shape == (3, 22, 18)
    reference = np.asarray(
        Image.open(root / "img_align_celeba" / sample["image_id"]).convert("RGB")
    )
    np.testing.assert_array_equal(sample["image"].permute(1, 2, 0).numpy(), reference)
    row = truth.set_index("image_id").loc[sample["image_id"]]
    assert sample["attributes"].dtype == torch.float32 and sample["attributes"].shape == (40,)
    np.testing.assert_array_equal(sample["attributes"].numpy(), row[list(ATTRIBUTE_NAMES)])
    assert sample["identity"] == row["identity"] and sample["index"] == 2
    assert train.table.loc[2, "image_id"] == sample["image_id"]
    test = CelebADataset(root, split="test", use_pack=False)
    assert set(test.table["partition"]) == {2}
    assert len(CelebADataset(root, split="all")) == 10


def test_size_center_crops_then_resizes(tmp_path: Path) -> None:
    root = write_official(
        tmp_path, celeba_truth(5), image_folder="img_align_celeba_png", ext=".png"
    )
    data = CelebADataset(root, split="all", size=8, use_pack=False)
    image = data[0]["image"]
    assert image.shape == (3, 8, 8) and image.dtype == torch.uint8
    # Reference: PIL's antialiased resize of the central 18×18 square of the 18×22 PNG.
    pil = Image.open(root / "img_align_celeba_png" / "000001.png").convert("RGB")
    reference = pil.resize((8, 8), Image.Resampling.BICUBIC, box=(0, 2, 18, 20))
    np.testing.assert_array_equal(image.permute(1, 2, 0).numpy(), np.asarray(reference))


def test_transform_is_applied(celeba: tuple[Path, object]) -> None:
    root, _ = celeba
    data = CelebADataset(root, split="train", transform=lambda x: x.float() / 255, use_pack=False)
    assert data[0]["image"].dtype == torch.float32


def test_bad_split_and_no_partition(celeba: tuple[Path, object]) -> None:
    root, _ = celeba
    with pytest.raises(CelebalabError, match="unknown split 'training'"):
        CelebADataset(root, split="training")
    (root / "list_eval_partition.txt").unlink()
    with pytest.raises(CelebalabError, match="no partition information; use split='all'"):
        CelebADataset(root, split="train")


def test_corrupt_image_raises_or_is_skipped(celeba: tuple[Path, object]) -> None:
    root, _ = celeba
    bad = root / "img_align_celeba" / "000002.jpg"
    bad.write_bytes(bad.read_bytes()[:200])  # truncated
    data = CelebADataset(root, split="train", use_pack=False)
    with pytest.raises(DataFormatError) as info:
        data[1]
    assert info.value.path == bad and "cannot read image" in str(info.value)
    skipping = CelebADataset(root, split="train", use_pack=False, skip_corrupt=True)
    sample = skipping[1]
    assert sample["image_id"] == "000003.jpg" and skipping.corrupt == ["000002.jpg"]
    loader = torch.utils.data.DataLoader(skipping, batch_size=4)
    assert sum(len(batch["image_id"]) for batch in loader) == len(skipping)


def test_hq_samples_have_masks_at_image_size(tmp_path: Path) -> None:
    truth = write_hq(tmp_path / "hq", n=6, mask_size=16)
    data = CelebAMaskHQDataset(tmp_path / "hq", split="all", use_pack=False)
    sample = data[1]
    assert sample["image"].shape == (3, 32, 32)
    mask = sample["mask"]
    assert mask.dtype == torch.int64 and mask.shape == (32, 32)
    assert mask[0, 0] == 14 and mask[9, 7] == 13 and mask[13, 9] == 4 and mask[31, 0] == 0
    np.testing.assert_array_equal(
        sample["attributes"].numpy(), truth.loc[1, list(ATTRIBUTE_NAMES)].to_numpy(float)
    )
    small = CelebAMaskHQDataset(tmp_path / "hq", split="all", size=8, use_pack=False)[1]
    assert small["image"].shape == (3, 8, 8) and small["mask"].shape == (8, 8)
    assert set(small["mask"].unique().tolist()) <= {0, 1, 3, 4, 13, 14}
    with pytest.raises(CelebalabError, match="not CelebAMask-HQ"):
        CelebAMaskHQDataset(write_official(tmp_path / "c", celeba_truth(3)), split="all")


def test_packed_cache_fast_path_agrees_and_pickles(celeba: tuple[Path, object]) -> None:
    import pickle

    root, _ = celeba
    pack_images(root, 8, workers=1)
    fast = CelebADataset(root, split="all", size=8)
    slow = CelebADataset(root, split="all", size=8, use_pack=False)
    assert fast.pack is not None and slow.pack is None
    for i in range(len(fast)):
        assert torch.equal(fast[i]["image"], slow[i]["image"])
    clone = pickle.loads(pickle.dumps(fast))
    assert clone._pack is None and torch.equal(clone[3]["image"], fast[3]["image"])


def test_reads_a_crop_none_pack_and_only_present_images(celeba: tuple[Path, object]) -> None:
    root, _ = celeba
    (root / "img_align_celeba" / "000004.jpg").unlink()
    pack_images(root, 8, crop="none", workers=1)
    fast = CelebADataset(root, split="all", size=8, crop="none")
    slow = CelebADataset(root, split="all", size=8, crop="none", use_pack=False)
    centre = CelebADataset(root, split="all", size=8, use_pack=False)
    assert fast.pack is not None and fast.pack.crop == "none"
    assert len(fast) == 9 and "000004.jpg" not in fast.table["image_id"].tolist()
    assert fast.rows.tolist() == [0, 1, 2, 4, 5, 6, 7, 8, 9]
    for i in range(len(fast)):
        assert torch.equal(fast[i]["image"], slow[i]["image"])
    assert not torch.equal(fast[0]["image"], centre[0]["image"])  # the whole 18×22 face
