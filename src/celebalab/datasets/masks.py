"""CelebAMask-HQ part masks → one label map, region masks by class name, colour overlays.

Mask files are ``CelebAMask-HQ-mask-anno/<k>/<NNNNN>_<class>.png`` with ``k = index // 2000``; a
file exists only for parts present in the image. The combined label map follows the dataset
authors' ``g_mask.py``: parts are painted in the order of :data:`MASK_CLASS_VALUES`, later ones
over earlier ones, with the authors' values. Classes are always looked up by *name*.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
from PIL import Image

from celebalab.datasets.decode import crop_box, image_error_text
from celebalab.datasets.layout import HQ_MASK_DIR
from celebalab.datasets.schema import (
    DEFAULT_REGION_GROUPS,
    MASK_CLASS_NAMES,
    MASK_CLASS_VALUES,
    MASK_PART_NAMES,
    unknown_name_message,
)
from celebalab.errors import CelebalabError, DataFormatError

IMAGES_PER_MASK_FOLDER = 2000
_MASK_NAME = re.compile(r"^(\d+)_(.+)\.png$", re.IGNORECASE)

#: One colour per class for overlays (background black), indexed by class value.
CLASS_COLORS: np.ndarray = np.array(
    [
        [0, 0, 0],
        [204, 160, 130],
        [255, 140, 60],
        [70, 70, 200],
        [0, 200, 255],
        [0, 120, 255],
        [150, 60, 20],
        [110, 40, 10],
        [255, 220, 0],
        [220, 190, 0],
        [255, 0, 120],
        [220, 30, 60],
        [170, 0, 50],
        [90, 40, 120],
        [0, 160, 80],
        [255, 255, 255],
        [200, 200, 0],
        [240, 200, 180],
        [40, 90, 160],
    ],
    dtype=np.uint8,
)


def mask_path(hq_root: str | Path, index: int, part: str) -> Path:
    """Path of the ``part`` mask of HQ image ``index`` (the file may not exist)."""
    folder = Path(hq_root) / HQ_MASK_DIR / str(index // IMAGES_PER_MASK_FOLDER)
    return folder / f"{index:05d}_{part}.png"


def parse_mask_name(name: str) -> tuple[int, str] | None:
    """``"00012_hair.png"`` → ``(12, "hair")``; None for a name that is not a mask file name."""
    match = _MASK_NAME.match(name)
    return None if match is None else (int(match.group(1)), match.group(2))


class MaskIndex:
    """The part files of every image, found by listing each ``<k>`` folder once (lazily).

    Listing beats probing 18 paths per image and also finds files with unknown class names.
    """

    def __init__(self, hq_root: str | Path) -> None:
        self.mask_dir = Path(hq_root) / HQ_MASK_DIR
        self._folders: dict[int, dict[int, dict[str, Path]]] = {}
        self._unknown: dict[int, list[Path]] = {}

    def parts(self, index: int) -> dict[str, Path]:
        """Class name → file for image ``index``; raises on a file with an unknown class name."""
        entries = self._folder(index // IMAGES_PER_MASK_FOLDER).get(index, {})
        for path in self._unknown.get(index, []):
            name = parse_mask_name(path.name)[1]
            raise DataFormatError(path, unknown_name_message("mask class", name, MASK_PART_NAMES))
        return entries

    def unknown_files(self, index: int) -> list[Path]:
        """Files of image ``index`` whose class name is not a CelebAMask-HQ class."""
        self._folder(index // IMAGES_PER_MASK_FOLDER)
        return list(self._unknown.get(index, []))

    def _folder(self, k: int) -> dict[int, dict[str, Path]]:
        if k not in self._folders:
            self._folders[k] = self._scan(self.mask_dir / str(k))
        return self._folders[k]

    def _scan(self, folder: Path) -> dict[int, dict[str, Path]]:
        found: dict[int, dict[str, Path]] = {}
        if not folder.is_dir():
            return found
        for path, index, part in scan_mask_folder(folder):
            if part in MASK_PART_NAMES:
                found.setdefault(index, {})[part] = path
            else:
                self._unknown.setdefault(index, []).append(path)
        return found


def scan_mask_folder(folder: Path) -> Iterator[tuple[Path, int, str]]:
    """``(path, image index, class name)`` of every ``<NNNNN>_<class>.png`` file in ``folder``.

    Class names are returned as written, known or not, so callers can report unknown ones.
    """
    with os.scandir(folder) as entries:
        for entry in entries:
            parsed = parse_mask_name(entry.name)
            if parsed is not None:
                yield Path(entry.path), parsed[0], parsed[1]


def read_part_mask(path: str | Path) -> np.ndarray:
    """A part mask as bool H×W: any non-zero pixel (in any channel) is inside the part.

    An empty, truncated or non-image file raises :class:`DataFormatError` naming it.
    """
    try:
        with Image.open(path) as image:
            array = np.asarray(image)
    except (OSError, ValueError, SyntaxError) as err:  # what Pillow raises for bad files
        raise DataFormatError(path, f"cannot read mask: {image_error_text(path, err)}") from None
    return array.any(axis=2) if array.ndim == 3 else array > 0


def combine_part_masks(parts: Mapping[str, np.ndarray]) -> np.ndarray:
    """Paint part masks into one uint8 label map in the authors' order (later classes win).

    Masks may be bool or 0/255, one- or three-channel; any non-zero pixel counts as inside.
    """
    unknown = [name for name in parts if name not in MASK_CLASS_VALUES]
    if unknown:
        raise CelebalabError(unknown_name_message("mask class", unknown[0], MASK_CLASS_NAMES))
    if not parts:
        raise CelebalabError("combine_part_masks needs at least one part mask")
    shapes = {name: np.shape(mask)[:2] for name, mask in parts.items()}
    if len(set(shapes.values())) > 1:
        raise CelebalabError(f"part masks differ in size: {shapes}")
    label_map = np.zeros(next(iter(shapes.values())), dtype=np.uint8)
    for name, value in MASK_CLASS_VALUES.items():
        if name in parts:
            mask = np.asarray(parts[name])
            inside = mask.any(axis=2) if mask.ndim == 3 else mask != 0
            label_map[inside] = value
    return label_map


def resize_label_map(
    label_map: np.ndarray, size: int | tuple[int, int], crop: str = "none"
) -> np.ndarray:
    """Nearest-neighbour resize (labels are never blended); ``size`` is S or (H, W).

    ``crop="center"`` first keeps the central square, as the image loaders do.
    """
    height, width = (size, size) if isinstance(size, int) else size
    box = crop_box(label_map.shape[1], label_map.shape[0], crop)
    if label_map.shape[:2] == (height, width) and box[2:] == (width, height):
        return label_map
    image = Image.fromarray(np.asarray(label_map, dtype=np.uint8))
    return np.asarray(image.resize((width, height), Image.Resampling.NEAREST, box=box))


def load_label_map(
    hq_root: str | Path,
    index: int,
    size: int | tuple[int, int] | None = None,
    mask_index: MaskIndex | None = None,
) -> np.ndarray:
    """The combined label map of HQ image ``index`` from whichever part files exist.

    ``size`` resizes it (nearest neighbour); ``mask_index`` reuses folder listings across calls.
    An image without any part file is an error (``data verify`` reports those).
    """
    files = (mask_index or MaskIndex(hq_root)).parts(index)
    if not files:
        raise DataFormatError(mask_path(hq_root, index, "*"), "no mask file for this image")
    parts = {name: read_part_mask(path) for name, path in files.items()}
    shapes = Counter(mask.shape for mask in parts.values())
    usual = shapes.most_common(1)[0][0]
    for name, mask in parts.items():
        if mask.shape != usual:
            raise DataFormatError(
                files[name],
                f"mask is {mask.shape[1]}x{mask.shape[0]}, "
                f"the other masks of this image are {usual[1]}x{usual[0]}",
            )
    label_map = combine_part_masks(parts)
    return label_map if size is None else resize_label_map(label_map, size)


def region_mask(
    label_map: np.ndarray,
    region: str,
    groups: Mapping[str, tuple[str, ...] | list[str]] = DEFAULT_REGION_GROUPS,
) -> np.ndarray:
    """Bool mask of a named region: a group of ``groups`` (by class name) or one class name."""
    if region in groups:
        classes = tuple(groups[region])
    elif region in MASK_CLASS_VALUES:
        classes = (region,)
    else:
        choices = sorted({*groups, *MASK_CLASS_NAMES})
        raise CelebalabError(unknown_name_message("region", region, choices))
    bad = [c for c in classes if c not in MASK_CLASS_VALUES]
    if bad:
        raise CelebalabError(
            f"region {region!r}: " + unknown_name_message("mask class", bad[0], MASK_CLASS_NAMES)
        )
    return np.isin(label_map, [MASK_CLASS_VALUES[c] for c in classes])


def label_map_to_color(label_map: np.ndarray) -> np.ndarray:
    """H×W×3 uint8 colour picture of a label map (see :data:`CLASS_COLORS`)."""
    values = np.asarray(label_map)
    if values.size and int(values.max()) >= len(CLASS_COLORS):
        raise CelebalabError(f"label map has value {int(values.max())}; classes go up to 18")
    return CLASS_COLORS[values]
