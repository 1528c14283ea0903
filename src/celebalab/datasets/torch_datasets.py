"""PyTorch datasets over a CelebA or CelebAMask-HQ copy.

Samples are dicts (docs/design.md, "Samples from the PyTorch datasets"): ``image`` uint8 3×H×W,
``attributes`` float32 (40),
``identity``, ``index`` (the row of ``dataset.table``), ``image_id``, plus ``mask`` (int64 H×W label
map) for CelebAMask-HQ.

``size=S`` gives S×S images: with ``crop="center"`` (default) the largest centred square is cut
out first (for the 178×218 aligned CelebA images that drops 20 rows top and bottom), with
``crop="none"`` the whole image is squeezed; then it is resized with antialiasing by the one row
reader (:class:`celebalab.datasets.reader.RowReader`), as the packed cache does; masks get the
same crop and a nearest-neighbour resize, so labels are never blended. When a packed cache of
that size and crop exists (``celebalab data pack``) images are read from it instead of decoded.
Only images whose file exists are samples.

A corrupt or unreadable image raises :class:`DataFormatError` naming the file. With
``skip_corrupt=True`` it is recorded in ``dataset.corrupt`` (image ids, per process: each
DataLoader worker keeps its own list) and the next readable sample is returned in its place, so a
long run is not lost to one bad file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from PIL import Image
from torch.utils.data import Dataset

from celebalab.datasets.dataset import DatasetLike, open_dataset
from celebalab.datasets.decode import image_error_text
from celebalab.datasets.masks import MaskIndex, load_label_map, resize_label_map
from celebalab.datasets.packed import PackedImages
from celebalab.datasets.reader import ImageSpec, RowReader
from celebalab.datasets.schema import ATTRIBUTE_NAMES, PARTITION_CODES
from celebalab.errors import CelebalabError, DataFormatError
from celebalab.runtime import SPLITS


def read_image(path: Path) -> torch.Tensor:
    """Decode an image file, full size, to uint8 3×H×W; failures raise DataFormatError."""
    try:
        with Image.open(path) as image:
            array = np.asarray(image.convert("RGB"))
    except (OSError, ValueError, SyntaxError) as err:  # what Pillow raises for bad files
        raise DataFormatError(path, f"cannot read image: {image_error_text(path, err)}") from None
    return torch.from_numpy(np.array(array)).permute(2, 0, 1)  # a writable copy for torch


class CelebADataset(Dataset):
    """CelebA (official or Kaggle layout) as dict samples; ``split`` is train/val/test/all.

    ``root`` is a dataset path or an opened :class:`~celebalab.datasets.dataset.Dataset`. Only
    images whose file exists are samples (a partial copy is a smaller dataset; ``index`` is the
    row of ``self.table``, ``self.rows`` the rows of the full metadata table). ``size`` and
    ``crop`` (``center`` or ``none``) are read through the one row reader: the packed cache of
    that size and crop when ``use_pack`` and one exists, else the file decoded the same way.
    """

    def __init__(
        self,
        root: DatasetLike,
        split: str = "train",
        size: int | None = None,
        transform: Callable[[torch.Tensor], Any] | None = None,
        use_pack: bool = True,
        skip_corrupt: bool = False,
        crop: str = "center",
    ) -> None:
        if split not in SPLITS:
            raise CelebalabError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
        self.dataset = open_dataset(root)
        partition = self.dataset.partition
        if split != "all" and (partition < 0).all():
            raise CelebalabError(f"{self.dataset.root}: no partition information; use split='all'")
        keep = self.dataset.present.copy()
        if split != "all":
            keep &= partition == PARTITION_CODES[split]
        self.rows = np.flatnonzero(keep)
        self.table: pd.DataFrame = self.dataset.table.iloc[self.rows].reset_index(drop=True)
        self.table.attrs = dict(self.dataset.table.attrs)
        self.root = self.dataset.root
        self.split, self.size, self.crop, self.transform = split, size, crop, transform
        self.spec = ImageSpec(size, crop) if size is not None else None
        self.skip_corrupt = skip_corrupt
        self.corrupt: list[str] = []
        self._image_ids: list[str] = self.table["image_id"].tolist()
        self._attributes = torch.tensor(self.table[list(ATTRIBUTE_NAMES)].to_numpy(np.float32))
        self._identity = self.table["identity"].to_numpy()
        self._use_pack = use_pack and size is not None
        self._pack: PackedImages | None = None
        self._pack_checked = False

    def __getstate__(self) -> dict[str, Any]:
        """Pickle (DataLoader workers) without the memmap: each process reopens the pack."""
        return {**self.__dict__, "_pack": None, "_pack_checked": False}

    @property
    def pack(self) -> PackedImages | None:
        """The packed cache used for images, or None (opened once per process)."""
        if self._use_pack and not self._pack_checked:
            ids = self.dataset.image_ids.tolist()
            self._pack = PackedImages.open(self.dataset, self.size, self.crop, image_ids=ids)
            self._pack_checked = True
        return self._pack

    def __len__(self) -> int:
        return len(self._image_ids)

    def __getitem__(self, index: int) -> dict[str, Any]:
        for offset in range(len(self)):
            row = (index + offset) % len(self)
            try:
                sample = self._sample(row)
            except DataFormatError:
                if not self.skip_corrupt:
                    raise
                self.corrupt.append(self._image_ids[row])
                continue
            if self.transform is not None:
                sample["image"] = self.transform(sample["image"])
            return sample
        raise CelebalabError(f"{self.root}: no readable image in this split")

    def image_path(self, row: int) -> Path:
        """The image file of row ``row`` of ``self.table``."""
        return self.dataset.image_path(int(self.rows[row]))

    def _sample(self, row: int) -> dict[str, Any]:
        """The sample of ``row`` before ``transform``."""
        return {
            "image": self._image(row),
            "attributes": self._attributes[row],
            "identity": int(self._identity[row]),
            "index": row,
            "image_id": self._image_ids[row],
        }

    def _image(self, row: int) -> torch.Tensor:
        if self.spec is None:
            return read_image(self.image_path(row))
        reader = RowReader(self.dataset, self.spec, self.pack)
        image = reader.read(self.rows[row : row + 1])[0]
        return torch.from_numpy(image).permute(2, 0, 1)


class CelebAMaskHQDataset(CelebADataset):
    """CelebAMask-HQ; with ``with_mask`` each sample also has ``mask``, the label map at the
    image's size (nearest-neighbour resize of the authors' combined 512×512 map)."""

    def __init__(
        self,
        root: DatasetLike,
        split: str = "train",
        size: int | None = None,
        transform: Callable[[torch.Tensor], Any] | None = None,
        use_pack: bool = True,
        skip_corrupt: bool = False,
        with_mask: bool = True,
        crop: str = "center",
    ) -> None:
        super().__init__(root, split, size, transform, use_pack, skip_corrupt, crop)
        if self.dataset.name != "celebamask_hq":
            raise CelebalabError(f"{self.root} is a CelebA copy, not CelebAMask-HQ")
        self.with_mask = with_mask
        self._masks = MaskIndex(self.root)
        self._hq_index = self.table["hq_index"].to_numpy()

    def _sample(self, row: int) -> dict[str, Any]:
        sample = super()._sample(row)
        if self.with_mask:
            label_map = load_label_map(self.root, int(self._hq_index[row]), mask_index=self._masks)
            height, width = sample["image"].shape[-2:]
            crop = self.crop if self.size is not None else "none"
            label_map = resize_label_map(label_map, (height, width), crop=crop)
            sample["mask"] = torch.from_numpy(label_map.astype(np.int64))
        return sample
