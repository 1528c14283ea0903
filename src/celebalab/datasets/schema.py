"""Names and constants shared by every part of celebalab.

Everything that identifies an attribute, a partition or a face-parsing class is defined here
once, by name, so that no module depends on a column or class *index*.
"""

from __future__ import annotations

from types import MappingProxyType

from celebalab.errors import unknown_name_message  # re-exported: it lived here

#: The 40 CelebA attributes in the order of the official ``list_attr_celeba.txt`` header.
ATTRIBUTE_NAMES: tuple[str, ...] = (
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald", "Bangs",
    "Big_Lips", "Big_Nose", "Black_Hair", "Blond_Hair", "Blurry", "Brown_Hair", "Bushy_Eyebrows",
    "Chubby", "Double_Chin", "Eyeglasses", "Goatee", "Gray_Hair", "Heavy_Makeup",
    "High_Cheekbones", "Male", "Mouth_Slightly_Open", "Mustache", "Narrow_Eyes", "No_Beard",
    "Oval_Face", "Pale_Skin", "Pointy_Nose", "Receding_Hairline", "Rosy_Cheeks", "Sideburns",
    "Smiling", "Straight_Hair", "Wavy_Hair", "Wearing_Earrings", "Wearing_Hat",
    "Wearing_Lipstick", "Wearing_Necklace", "Wearing_Necktie", "Young",
)  # fmt: skip

#: Partition codes of ``list_eval_partition.txt`` and their names.
PARTITION_NAMES: MappingProxyType[int, str] = MappingProxyType({0: "train", 1: "val", 2: "test"})
PARTITION_CODES: MappingProxyType[str, int] = MappingProxyType(
    {name: code for code, name in PARTITION_NAMES.items()}
)

#: Official CelebA sizes, used by ``data verify`` to say whether a copy is complete.
CELEBA_NUM_IMAGES = 202_599
CELEBA_NUM_IDENTITIES = 10_177
CELEBA_PARTITION_SIZES: MappingProxyType[str, int] = MappingProxyType(
    {"train": 162_770, "val": 19_867, "test": 19_962}
)
CELEBAMASK_HQ_NUM_IMAGES = 30_000
CELEBAMASK_HQ_PARTITION_SIZES: MappingProxyType[str, int] = MappingProxyType(
    {"train": 24_183, "val": 2_993, "test": 2_824}
)

LANDMARK_COLUMNS: tuple[str, ...] = (
    "lefteye_x", "lefteye_y", "righteye_x", "righteye_y", "nose_x", "nose_y",
    "leftmouth_x", "leftmouth_y", "rightmouth_x", "rightmouth_y",
)  # fmt: skip
BBOX_COLUMNS: tuple[str, ...] = ("x_1", "y_1", "width", "height")
POSE_COLUMNS: tuple[str, ...] = ("yaw", "pitch", "roll")

#: CelebAMask-HQ classes with the label values of the authors' ``g_mask.py``. The dict order is
#: the authors' painting order: later classes overwrite earlier ones in the combined label map.
MASK_CLASS_VALUES: MappingProxyType[str, int] = MappingProxyType(
    {
        "background": 0, "skin": 1, "nose": 2, "eye_g": 3, "l_eye": 4, "r_eye": 5, "l_brow": 6,
        "r_brow": 7, "l_ear": 8, "r_ear": 9, "mouth": 10, "u_lip": 11, "l_lip": 12, "hair": 13,
        "hat": 14, "ear_r": 15, "neck_l": 16, "neck": 17, "cloth": 18,
    }
)  # fmt: skip
MASK_CLASS_NAMES: tuple[str, ...] = tuple(MASK_CLASS_VALUES)
#: The 18 part classes that have their own ``<NNNNN>_<class>.png`` files (background has none).
MASK_PART_NAMES: tuple[str, ...] = MASK_CLASS_NAMES[1:]

#: Default region groups, by class name. Users may pass their own mapping wherever a grouping is
#: accepted; "background" is the complement of every part.
DEFAULT_REGION_GROUPS: MappingProxyType[str, tuple[str, ...]] = MappingProxyType(
    {
        "eyes": ("l_eye", "r_eye"),
        "brows": ("l_brow", "r_brow"),
        "nose": ("nose",),
        "mouth": ("mouth", "u_lip", "l_lip"),
        "lips": ("u_lip", "l_lip"),
        "ears": ("l_ear", "r_ear"),
        "face": ("skin", "nose", "l_eye", "r_eye", "l_brow", "r_brow", "mouth", "u_lip", "l_lip"),
        "skin": ("skin",),
        "hair": ("hair",),
        "neck": ("neck",),
        "accessories": ("eye_g", "hat", "ear_r", "neck_l"),
        "eyeglasses": ("eye_g",),
        "hat": ("hat",),
        "earrings": ("ear_r",),
        "necklace": ("neck_l",),
        "cloth": ("cloth",),
        "background": ("background",),
    }
)


def attribute_index(name: str) -> int:
    """Position of an attribute in :data:`ATTRIBUTE_NAMES`, with a close-match hint on typos."""
    try:
        return ATTRIBUTE_NAMES.index(name)
    except ValueError:
        raise KeyError(unknown_name_message("attribute", name, ATTRIBUTE_NAMES)) from None
