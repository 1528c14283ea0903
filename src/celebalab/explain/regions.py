"""Which facial region each decision is about: attribute → mask classes, by class name.

A regional metric needs, per image and decision, the pixels the decision *should* rest on. On
real CelebAMask-HQ that is a judgement, written down here once (:data:`DEFAULT_ATTRIBUTE_REGIONS`)
and overridable by a JSON/YAML file; on synthetic faces it is a fact: the generator's own table
(:data:`celebalab.datasets.synth.ATTRIBUTE_REGIONS`) says which classes draw each attribute.
The study plan's region groups for analysis (eyes = brows + eyes + glasses, …) are kept
separately because they differ from the data layer's finer
:data:`~celebalab.datasets.schema.DEFAULT_REGION_GROUPS`.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from celebalab.datasets.schema import (
    ATTRIBUTE_NAMES,
    DEFAULT_REGION_GROUPS,
    MASK_CLASS_VALUES,
    unknown_name_message,
)
from celebalab.errors import CelebalabError, DataFormatError

_EYES = ("l_eye", "r_eye")
_BROWS = ("l_brow", "r_brow")
_MOUTH = ("mouth", "u_lip", "l_lip")

#: Real-data default: attributes with a clear region, mapped to CelebAMask-HQ classes by name.
#: Global or subjective attributes (Attractive, Young, Blurry, …) have no region and are skipped.
DEFAULT_ATTRIBUTE_REGIONS: MappingProxyType[str, tuple[str, ...]] = MappingProxyType(
    {
        "Arched_Eyebrows": _BROWS,
        "Bags_Under_Eyes": ("skin",),
        "Bangs": ("hair",),
        "Big_Lips": ("u_lip", "l_lip"),
        "Big_Nose": ("nose",),
        "Black_Hair": ("hair",),
        "Blond_Hair": ("hair",),
        "Brown_Hair": ("hair",),
        "Bushy_Eyebrows": _BROWS,
        "Eyeglasses": ("eye_g",),
        "Gray_Hair": ("hair",),
        "Mouth_Slightly_Open": _MOUTH,
        "Narrow_Eyes": _EYES,
        "Pointy_Nose": ("nose",),
        "Sideburns": ("hair",),
        "Smiling": _MOUTH,
        "Straight_Hair": ("hair",),
        "Wavy_Hair": ("hair",),
        "Wearing_Earrings": ("ear_r",),
        "Wearing_Hat": ("hat",),
        "Wearing_Lipstick": ("u_lip", "l_lip"),
        "Wearing_Necklace": ("neck_l",),
        "Wearing_Necktie": ("cloth",),
    }
)

#: The region groups of the per-region tables (the study plan's "Region Groupings"), by class name.
ANALYSIS_REGION_GROUPS: MappingProxyType[str, tuple[str, ...]] = MappingProxyType(
    {
        "eyes": (*_BROWS, *_EYES, "eye_g"),
        "nose": ("nose",),
        "mouth": _MOUTH,
        "ears": ("l_ear", "r_ear", "ear_r"),
        "face": ("skin", *_BROWS, *_EYES, "nose", *_MOUTH),
        "accessories": ("eye_g", "ear_r", "neck_l", "hat"),
    }
)


def synthetic_attribute_regions() -> dict[str, tuple[str, ...]]:
    """The generator's ground truth: attribute → the classes that draw it (drawn kinds only)."""
    from celebalab.datasets.synth import ATTRIBUTE_REGIONS

    return {
        name: tuple(entry["classes"])
        for name, entry in ATTRIBUTE_REGIONS.items()
        if entry["kind"] in ("drawn", "mixed") and entry["classes"]
    }


def expand_region(names: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Group or class names → class names in label order.

    A group name wins over a class of the same name (``mouth`` = mouth + lips), as in
    :func:`celebalab.datasets.masks.region_mask`; the analysis groups come before the data layer's.
    """
    classes: set[str] = set()
    for name in names:
        if name in ANALYSIS_REGION_GROUPS:
            classes.update(ANALYSIS_REGION_GROUPS[name])
        elif name in DEFAULT_REGION_GROUPS:
            classes.update(DEFAULT_REGION_GROUPS[name])
        elif name in MASK_CLASS_VALUES:
            classes.add(name)
        else:
            choices = sorted({*MASK_CLASS_VALUES, *ANALYSIS_REGION_GROUPS, *DEFAULT_REGION_GROUPS})
            raise CelebalabError(unknown_name_message("region or mask class", name, choices))
    return tuple(sorted(classes, key=MASK_CLASS_VALUES.__getitem__))


def load_region_table(path: str | Path) -> dict[str, tuple[str, ...]]:
    """Read a JSON/YAML mapping ``{attribute: [class or group names]}`` (a user override).

    Names are checked here, so a typo is one clear line naming the file, not a silent empty mask.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise CelebalabError(f"{path}: cannot read region table ({err.strerror})") from None
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            raw = yaml.safe_load(text)
        else:
            raw = json.loads(text)
    except Exception as err:  # json and yaml raise different types; both mean "bad file"
        line = getattr(err, "lineno", None) or getattr(
            getattr(err, "problem_mark", None), "line", None
        )
        raise DataFormatError(path, f"not valid JSON/YAML: {err}".splitlines()[0], line) from None
    if not isinstance(raw, dict):
        raise DataFormatError(path, "expected a mapping {attribute: [mask classes or groups]}")
    table: dict[str, tuple[str, ...]] = {}
    for attribute, names in raw.items():
        if attribute not in ATTRIBUTE_NAMES:
            raise DataFormatError(
                path, unknown_name_message("attribute", attribute, ATTRIBUTE_NAMES)
            )
        if not isinstance(names, list) or not names:
            raise DataFormatError(
                path, f'{attribute}: expected a non-empty list of class names, e.g. ["mouth"]'
            )
        not_names = [n for n in names if not isinstance(n, str)]
        if not_names:
            raise DataFormatError(path, f"{attribute}: {not_names[0]!r} is not a class name")
        try:
            table[attribute] = expand_region(names)
        except CelebalabError as err:
            raise DataFormatError(path, f"{attribute}: {err}") from None
    return table


def region_table_for(
    synthetic: bool, override: str | Path | Mapping[str, tuple[str, ...]] | None = None
) -> dict[str, tuple[str, ...]]:
    """The attribute → classes table to use: an override, else the synthetic or real default."""
    if override is not None:
        if isinstance(override, Mapping):
            return {a: expand_region(list(c)) for a, c in override.items()}
        return load_region_table(override)
    return synthetic_attribute_regions() if synthetic else dict(DEFAULT_ATTRIBUTE_REGIONS)


def class_masks(label_maps: np.ndarray, classes: tuple[str, ...]) -> np.ndarray:
    """Bool masks ``B×H×W`` of the pixels whose label is one of ``classes`` (vectorised)."""
    lut = np.zeros(256, dtype=bool)
    lut[[MASK_CLASS_VALUES[c] for c in classes]] = True
    return lut[np.asarray(label_maps, dtype=np.uint8)]


def __getattr__(name: str) -> Any:
    """``SEED_REGION_GROUPS``: deprecated name of :data:`ANALYSIS_REGION_GROUPS` (one release)."""
    if name == "SEED_REGION_GROUPS":
        warnings.warn(
            "SEED_REGION_GROUPS is deprecated; use ANALYSIS_REGION_GROUPS",
            DeprecationWarning,
            stacklevel=2,
        )
        return ANALYSIS_REGION_GROUPS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
