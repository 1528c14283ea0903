"""Which images (and pairs) an explain run looks at, with their ground-truth region masks.

For an attribute, the images are those of the chosen split where the attribute is present and
its region is visible (a non-empty mask in the label-map pack), drawn with a seed, up to ``n``.
Images without a label map are reported and skipped. Without label maps (a run whose
alignment masks cannot follow, see :mod:`._imported`) every image where the attribute is
present is eligible, and pairs carry no masks.

Pairs for an embedding model's decision (``--pairs``):

- synthetic data written with ``data synth --pairs``: exact counterfactual pairs (the same face
  re-rendered with one region's attribute changed); the region is the changed pixels;
- otherwise pairs chosen from labels, as the study plan describes: two images of one identity (when
  the dataset has identities) that differ in the attributes of one region group and agree on
  those of the other groups ("pairs differing in eyes but similar in nose/mouth"); the region is
  that group's mask in the first image.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from celebalab.datasets.mask_pack import PackedLabelMaps
from celebalab.explain.regions import ANALYSIS_REGION_GROUPS, class_masks

COUNTERFACTUAL_DIR = "synthetic_pairs"
COUNTERFACTUAL_TABLE = "pairs.csv"

#: Attributes that live in each analysis region group, for choosing pairs from labels.
PAIR_GROUP_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "eyes": ("Eyeglasses", "Narrow_Eyes", "Arched_Eyebrows", "Bushy_Eyebrows"),
    "nose": ("Big_Nose", "Pointy_Nose"),
    "mouth": ("Smiling", "Mouth_Slightly_Open", "Big_Lips", "Wearing_Lipstick"),
}


@dataclass
class Selection:
    """Table rows chosen per attribute, and the images that could not be used."""

    rows: dict[str, np.ndarray]
    skipped: list[dict[str, str]] = field(default_factory=list)


def synthetic_truth(root: Path) -> dict | None:
    """``synthetic_truth.json`` of a synthetic CelebA or CelebAMask-HQ root, else None."""
    for path in (root / "synthetic_truth.json", root.parent / "synthetic_truth.json"):
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8"))
    return None


def select_images(
    table: pd.DataFrame,
    split_rows: np.ndarray,
    labels: PackedLabelMaps | None,
    regions: dict[str, tuple[str, ...]],
    *,
    n: int,
    seed: int,
) -> Selection:
    """Up to ``n`` rows per attribute: present, region visible, label map packed (seeded)."""
    rng = np.random.default_rng(seed)
    valid = has_label_map(labels, split_rows)
    skipped = [
        {"image_id": str(table["image_id"].iat[r]), "reason": "no face-parsing mask"}
        for r in split_rows[~valid]
    ]
    usable = split_rows[valid]
    chosen = {}
    for attribute, classes in regions.items():
        visible = usable[table[attribute].to_numpy()[usable] == 1]
        if labels is not None:
            visible = visible[class_masks(labels.labels[visible], classes).any((1, 2))]
        pick = rng.permutation(len(visible))[:n]
        chosen[attribute] = np.sort(visible[pick])
    return Selection(chosen, skipped)


@dataclass
class PairSet:
    """Pairs: first images' table rows, second images (files or rows), region masks, kinds."""

    first_rows: np.ndarray
    second_rows: np.ndarray | None  # table rows of the second images (label pairs)
    second_files: list[Path] | None  # counterfactual image files (synthetic pairs)
    masks: np.ndarray | None  # B×S×S bool, the ground-truth region in the first image
    kinds: list[str]  # the changed attribute (counterfactual) or region group (label pairs)
    source: str


def counterfactual_pairs(
    root: Path,
    table: pd.DataFrame,
    split_rows: np.ndarray,
    n: int,
    mask: Callable[[np.ndarray, int], np.ndarray],
) -> PairSet | None:
    """The synthetic counterfactual pairs of ``root`` among ``split_rows`` (None if not written).

    ``mask(changed, row)`` puts a pair's changed-pixel mask (drawn on table row ``row``'s image)
    in the model's input frame.
    """
    from PIL import Image

    folder = root / COUNTERFACTUAL_DIR
    if not (folder / COUNTERFACTUAL_TABLE).is_file():
        return None
    pairs = pd.read_csv(folder / COUNTERFACTUAL_TABLE)
    row_of = {image_id: r for r, image_id in enumerate(table["image_id"].astype(str))}
    allowed = set(split_rows.tolist())
    pairs = pairs[[row_of.get(i, -1) in allowed for i in pairs["image_id"]]].head(n)
    if pairs.empty:
        return None
    first = np.array([row_of[i] for i in pairs["image_id"]], dtype=np.int64)
    masks = []
    for name, row in zip(pairs["changed_mask"], first, strict=True):
        with Image.open(folder / name) as image:
            masks.append(mask((np.asarray(image) > 0).astype(np.uint8), row).astype(bool))
    return PairSet(
        first_rows=first,
        second_rows=None,
        second_files=[folder / f for f in pairs["pair_image"]],
        masks=np.stack(masks),
        kinds=pairs["attribute"].astype(str).tolist(),
        source="synthetic counterfactual pairs (data synth --pairs)",
    )


def label_pairs(
    table: pd.DataFrame,
    split_rows: np.ndarray,
    labels: PackedLabelMaps | None,
    *,
    n: int,
    seed: int,
) -> PairSet | None:
    """Pairs from labels: same identity (if known), differing in one group, equal in the others."""
    rng = np.random.default_rng(seed)
    rows = split_rows[has_label_map(labels, split_rows)]
    identity = table["identity"].to_numpy()[rows]
    groups = {g: table[list(a)].to_numpy()[rows] for g, a in PAIR_GROUP_ATTRIBUTES.items()}
    order = rng.permutation(len(rows))
    firsts, seconds, kinds = [], [], []
    per_group = max(1, n // len(groups))
    for group in groups:
        others = [g for g in groups if g != group]
        found = 0
        for i in order:
            if found >= per_group:
                break
            same_person = (
                (identity == identity[i]) if identity[i] >= 0 else np.ones(len(rows), bool)
            )
            ok = same_person & (np.arange(len(rows)) != i)
            ok &= (groups[group] != groups[group][i]).any(1)
            for g in others:
                ok &= (groups[g] == groups[g][i]).all(1)
            candidates = np.flatnonzero(ok)
            if len(candidates):
                firsts.append(rows[i])
                seconds.append(rows[rng.choice(candidates)])
                kinds.append(group)
                found += 1
    if not firsts:
        return None
    first = np.asarray(firsts, dtype=np.int64)
    source = "pairs chosen from labels (one identity, one region group differs)"
    if labels is None:
        return PairSet(first, np.asarray(seconds, dtype=np.int64), None, None, kinds, source)
    masks = np.stack(
        [
            class_masks(labels.labels[r][None], ANALYSIS_REGION_GROUPS[k])[0]
            for r, k in zip(first, kinds, strict=True)
        ]
    )
    keep = masks.any((1, 2))
    return PairSet(
        first_rows=first[keep],
        second_rows=np.asarray(seconds, dtype=np.int64)[keep],
        second_files=None,
        masks=masks[keep],
        kinds=[k for k, ok in zip(kinds, keep, strict=True) if ok],
        source=source,
    )


def has_label_map(labels: PackedLabelMaps | None, rows: np.ndarray) -> np.ndarray:
    """Which ``rows`` have a usable label map (all of them when there are no label maps)."""
    return np.ones(len(rows), bool) if labels is None else np.asarray(labels.valid[rows])
