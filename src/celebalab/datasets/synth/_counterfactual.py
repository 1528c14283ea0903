"""Exact counterfactual pairs (``data synth --pairs``): the same face re-rendered with one
region's attribute changed, with the changed pixels as a mask.

An explainer asked why an embedding model finds two images (dis)similar should point at where
they differ; on these pairs that place is known to the pixel. For image ``i`` and attribute
``A`` the counterfactual keeps every drawing parameter of ``i`` and takes from a render with
``A`` flipped only the parameters listed in :data:`PAIRABLE` for ``A`` (so, e.g., a changed
smile does not also change the eyes' narrowing). The changed-region mask is every pixel whose
colour (before JPEG) or label differs between the two renders.

Files, in ``OUT/CelebA/synthetic_pairs/``: ``<stem>__<A>.jpg`` (the counterfactual, aligned
size, the original's JPEG quality), ``<stem>__<A>_labels.png`` (its label map),
``<stem>__<A>_changed.png`` (0/255 mask) and ``pairs.csv`` (``image_id, attribute, direction,
pair_image, pair_labels, changed_mask, changed_pixels``), written last.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from celebalab.datasets.schema import ATTRIBUTE_NAMES, unknown_name_message
from celebalab.errors import CelebalabError

PAIRS_DIR = "synthetic_pairs"

#: Attribute → the drawing parameters it controls (``attrs`` always follows the flip).
PAIRABLE: dict[str, tuple[str, ...]] = {
    "Eyeglasses": ("glasses",),
    "Wearing_Hat": ("hat",),
    "Wearing_Earrings": ("earring",),
    "Wearing_Necklace": ("necklace",),
    "Wearing_Necktie": ("necktie",),
    "Wearing_Lipstick": ("lips",),
    "Smiling": ("smile", "mouth_w", "mouth_gap", "teeth"),
    "Mouth_Slightly_Open": ("mouth_gap", "teeth"),
    "Big_Nose": ("nose_len", "nose_w"),
    "Pointy_Nose": ("nose_w", "nose_point"),
    "Bushy_Eyebrows": ("brow_thick",),
    "Arched_Eyebrows": ("brow_arch", "brow_peak"),
    "Narrow_Eyes": ("eye_up", "eye_low"),
    "Bangs": (),
}


def check_pair_attributes(names: Sequence[str]) -> tuple[str, ...]:
    """Validate ``--pairs`` attribute names against :data:`PAIRABLE`."""
    for name in names:
        if name not in PAIRABLE:
            raise CelebalabError(unknown_name_message("pair attribute", name, sorted(PAIRABLE)))
    return tuple(dict.fromkeys(names))


def counterfactual(face, attribute: str, flipped):
    """``face`` with ``attribute`` flipped: ``flipped`` (a render of the flip) lends its fields."""
    attrs = {**face.attrs, attribute: not face.attrs[attribute]}
    fields = {f: getattr(flipped, f) for f in PAIRABLE[attribute]}
    return dataclasses.replace(face, attrs=attrs, **fields)


def write_counterfactual_pairs(
    out: Path,
    plan,
    seed: int,
    aligned_size: tuple[int, int],
    attributes: Sequence[str],
    per_attribute: int,
) -> Path:
    """Write ``per_attribute`` pairs per attribute, from the test split's first images."""
    import pandas as pd
    from PIL import Image

    from celebalab.datasets.synth._appearance import face_parameters
    from celebalab.datasets.synth._geometry import sketch_face
    from celebalab.datasets.synth._render import Canvas, render
    from celebalab.datasets.synth._writer import celeba_name
    from celebalab.io import write_bytes_atomic, write_text_atomic

    folder = out / "CelebA" / PAIRS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    canvas = Canvas.aligned(*aligned_size)
    test = np.flatnonzero(plan.partition == 2)[:per_attribute]
    rows = []
    originals = {}  # each test image's face and render, shared by all its attributes' pairs
    for i in test.tolist():
        tints = tuple((c, s.classes) for c, s in enumerate(plan.shortcuts) if plan.cues[i, c])
        face = face_parameters(seed, i, int(plan.ident_index[i]), plan.true_attrs[i], tints)
        first = render(face, canvas, sketch_face(face))
        originals[i] = (tints, face, np.asarray(first.image), np.asarray(first.labels))
    for attribute in check_pair_attributes(attributes):
        a = ATTRIBUTE_NAMES.index(attribute)
        for i, (tints, face, first_image, first_labels) in originals.items():
            ident, attrs = int(plan.ident_index[i]), plan.true_attrs[i]
            flipped_attrs = attrs.copy()
            flipped_attrs[a] = 1 - flipped_attrs[a]
            other = counterfactual(
                face, attribute, face_parameters(seed, i, ident, flipped_attrs, tints)
            )
            second = render(other, canvas, sketch_face(other))
            changed = (first_image != np.asarray(second.image)).any(-1)
            changed |= first_labels != np.asarray(second.labels)
            stem = f"{Path(celeba_name(i)).stem}__{attribute}"
            write_bytes_atomic(
                folder / f"{stem}.jpg", _encode(second.image, "JPEG", face.jpeg_quality)
            )
            write_bytes_atomic(folder / f"{stem}_labels.png", _encode(second.labels, "PNG"))
            mask = Image.fromarray((changed * 255).astype(np.uint8))
            write_bytes_atomic(folder / f"{stem}_changed.png", _encode(mask, "PNG"))
            rows.append(
                {
                    "image_id": celeba_name(i),
                    "attribute": attribute,
                    "direction": "remove" if attrs[a] else "add",
                    "pair_image": f"{stem}.jpg",
                    "pair_labels": f"{stem}_labels.png",
                    "changed_mask": f"{stem}_changed.png",
                    "changed_pixels": int(changed.sum()),
                }
            )
    return write_text_atomic(folder / "pairs.csv", pd.DataFrame(rows).to_csv(index=False))


def _encode(image, kind: str, quality: int | None = None) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=kind, **({"quality": quality} if quality else {"compress_level": 1}))
    return buf.getvalue()
