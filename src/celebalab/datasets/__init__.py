"""Reading CelebA and CelebAMask-HQ: metadata tables, masks and PyTorch datasets.

Importing this package stays light (no torch): the datasets and other members load on first use.
"""

# No ``from __future__ import annotations`` here: it would bind the name ``annotations`` in this
# package and shadow the ``celebalab.datasets.annotations`` submodule in ``from … import``.

from celebalab._lazy import lazy_exports
from celebalab.datasets.schema import (
    ATTRIBUTE_NAMES,
    DEFAULT_REGION_GROUPS,
    MASK_CLASS_NAMES,
    MASK_CLASS_VALUES,
    PARTITION_NAMES,
)

_LAZY = {
    "Dataset": "celebalab.datasets.dataset",
    "open_dataset": "celebalab.datasets.dataset",
    "ImageSpec": "celebalab.datasets.reader",
    "RowReader": "celebalab.datasets.reader",
    "load_table": "celebalab.datasets.table",
    "read_annotation": "celebalab.datasets.annotations",
    "detect_layout": "celebalab.datasets.layout",
    "combine_part_masks": "celebalab.datasets.masks",
    "load_label_map": "celebalab.datasets.masks",
    "region_mask": "celebalab.datasets.masks",
    "label_map_to_color": "celebalab.datasets.masks",
    "CelebADataset": "celebalab.datasets.torch_datasets",
    "CelebAMaskHQDataset": "celebalab.datasets.torch_datasets",
    "verify_dataset": "celebalab.datasets.verify",
    "VerifyOptions": "celebalab.datasets.config",
    "pack_images": "celebalab.datasets.packed",
    "PackOptions": "celebalab.datasets.config",
    "PackedImages": "celebalab.datasets.packed",
}

__all__ = [
    "ATTRIBUTE_NAMES",
    "DEFAULT_REGION_GROUPS",
    "MASK_CLASS_NAMES",
    "MASK_CLASS_VALUES",
    "PARTITION_NAMES",
    *_LAZY,
]


__getattr__ = lazy_exports(__name__, _LAZY)
