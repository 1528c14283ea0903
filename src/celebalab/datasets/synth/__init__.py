"""Synthetic CelebA / CelebAMask-HQ: procedural faces whose attributes have known causes.

``generate(out, n, seed)`` writes both datasets in their official layouts plus pixel-exact label
maps and the ground truth of which mask classes cause each attribute (:data:`ATTRIBUTE_REGIONS`).
"""

from celebalab.datasets.synth._generate import SynthResult, generate
from celebalab.datasets.synth._regions import ATTRIBUTE_REGIONS, attribute_region_table
from celebalab.datasets.synth._sampling import TARGET_RATES, Shortcut, make_plan
from celebalab.datasets.synth._visual import face_grid, overlay_label_map
from celebalab.datasets.synth.config import SynthOptions

__all__ = [
    "ATTRIBUTE_REGIONS",
    "TARGET_RATES",
    "Shortcut",
    "SynthOptions",
    "SynthResult",
    "attribute_region_table",
    "face_grid",
    "generate",
    "make_plan",
    "overlay_label_map",
]
