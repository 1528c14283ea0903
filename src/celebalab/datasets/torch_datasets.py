"""PyTorch datasets over a CelebA or CelebAMask-HQ copy.

Samples are dicts (see docs/ARCHITECTURE.md): ``image`` uint8 3×H×W, ``attributes`` float32 (40,),
``identity``, ``index`` (the row of ``dataset.table``), ``image_id``, plus ``mask`` (int64 H×W label
map) for CelebAMask-HQ.

``size=S`` gives S×S images: the largest centred square is cut out first (for the 178×218 aligned
CelebA images that drops 20 rows top and bottom), then resized with antialiasing, by
:func:`celebalab.datasets.decode.load_resized`, the function the packed cache uses too; masks get
the same crop and a nearest-neighbour resize, so labels are never blended. When a packed cache of
that size exists (``celebalab data pack``) images are read from it instead of decoded.

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

from celebalab.datasets.decode import image_error_text, load_resized
from celebalab.datasets.layout import image_file_name
from celebalab.datasets.masks import MaskIndex, load_label_map, resize_label_map
from celebalab.datasets.packed import PackedImages
from celebalab.datasets.schema import ATTRIBUTE_NAMES, PARTITION_CODES
from celebalab.datasets.table import load_table
from celebalab.errors import CelebalabError, DataFormatError
from celebalab.runtime import SPLITS


def read_image(path: Path, size: int | None = None) -> torch.Tensor:
    """Decode an image file to uint8 3×H×W (S×S with ``size``); failures raise DataFormatError."""
    try:
        if size is not None:
            array = load_resized(path, size, crop="center")
        else:
            with Image.open(path) as image:
                array = np.asarray(image.convert("RGB"))
    except (OSError, ValueError, SyntaxError) as err:  # what Pillow raises for bad files
        raise DataFormatError(path, f"cannot read image: {image_error_text(path, err)}") from None
    return torch.from_numpy(np.array(array)).permute(2, 0, 1)  # a writable copy for torch


class CelebADataset(Dataset):
    """CelebA (official or Kaggle layout) as dict samples; ``split`` is train/val/test/all."""

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        size: int | None = None,
        transform: Callable[[torch.Tensor], Any] | None = None,
        use_pack: bool = True,
        skip_corrupt: bool = False,
    ) -> None:
        if split not in SPLITS:
            raise CelebalabError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
        full = load_table(root)
        if split != "all" and (full["partition"] < 0).all():
            raise CelebalabError(f"{root}: no partition information; use split='all'")
        rows = full if split == "all" else full[full["partition"] == PARTITION_CODES[split]]
        self.table: pd.DataFrame = rows.reset_index(drop=True)
        self.table.attrs = dict(full.attrs)
        self.root = Path(full.attrs["root"])
        self.split, self.size, self.transform = split, size, transform
        self.skip_corrupt = skip_corrupt
        self.corrupt: list[str] = []
        self._image_dir = Path(full.attrs["image_dir"])
        self._image_ext = full.attrs["image_ext"]
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
            self._pack = PackedImages.open(self.root, self.size)
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
        """The image file of table row ``row``."""
        return self._image_dir / image_file_name(self._image_ids[row], self._image_ext)

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
        image_id = self._image_ids[row]
        pack = self.pack
        if pack is not None:
            try:
                packed = pack.row_of(image_id)
            except KeyError:  # not in this pack: decode the file
                return read_image(self.image_path(row), self.size)
            if not pack.valid[packed]:
                raise DataFormatError(self.image_path(row), "marked corrupt in the pack")
            return torch.from_numpy(np.array(pack.images[packed])).permute(2, 0, 1)
        return read_image(self.image_path(row), self.size)


class CelebAMaskHQDataset(CelebADataset):
    """CelebAMask-HQ; with ``with_mask`` each sample also has ``mask``, the label map at the
    image's size (nearest-neighbour resize of the authors' combined 512×512 map)."""

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        size: int | None = None,
        transform: Callable[[torch.Tensor], Any] | None = None,
        use_pack: bool = True,
        skip_corrupt: bool = False,
        with_mask: bool = True,
    ) -> None:
        super().__init__(root, split, size, transform, use_pack, skip_corrupt)
        if self.table.attrs.get("dataset") != "celebamask_hq":
            raise CelebalabError(f"{root} is a CelebA copy, not CelebAMask-HQ")
        self.with_mask = with_mask
        self._masks = MaskIndex(self.root)
        self._hq_index = self.table["hq_index"].to_numpy()

    def _sample(self, row: int) -> dict[str, Any]:
        sample = super()._sample(row)
        if self.with_mask:
            label_map = load_label_map(self.root, int(self._hq_index[row]), mask_index=self._masks)
            height, width = sample["image"].shape[-2:]
            crop = "center" if self.size is not None else "none"
            label_map = resize_label_map(label_map, (height, width), crop=crop)
            sample["mask"] = torch.from_numpy(label_map.astype(np.int64))
        return sample
