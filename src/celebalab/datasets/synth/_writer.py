"""Annotation files in the official CelebA / CelebAMask-HQ formats, byte for byte.

CelebA ``.txt`` files use CRLF, a row-count line, a header (the attribute header ends with a
space) and right-aligned columns; CelebAMask-HQ files use LF and their own spacing (see
``tests/data/formats``). Files are streamed in blocks to a temporary file and renamed into place,
so memory stays flat in N and a reader never sees half a file.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import chain, islice
from pathlib import Path

import numpy as np

from celebalab.datasets.schema import ATTRIBUTE_NAMES, BBOX_COLUMNS, LANDMARK_COLUMNS
from celebalab.io import atomic_path

_BLOCK = 8192


def celeba_name(index: int) -> str:
    """File name of 0-based CelebA image ``index`` (``000001.jpg`` for 0)."""
    return f"{index + 1:06d}.jpg"


def write_lines(path: Path, lines: Iterable[str], newline: str) -> Path:
    """Write ``lines`` (without line ends), each ended by ``newline``, atomically."""
    it = iter(lines)
    with atomic_path(path) as tmp, open(tmp, "w", encoding="ascii", newline="") as fh:
        while block := list(islice(it, _BLOCK)):
            fh.write(newline.join(block) + newline)
    return path


def write_celeba_attributes(path: Path, values: np.ndarray) -> Path:
    """``list_attr_celeba.txt``: count, header ending in a space, ``-1``/`` 1`` columns (CRLF)."""
    signed = values.astype(np.int8) * 2 - 1
    rows = (
        celeba_name(i) + "".join(f"{v:3d}" for v in row) for i, row in enumerate(signed.tolist())
    )
    return write_lines(
        path, chain([str(len(values)), " ".join(ATTRIBUTE_NAMES) + " "], rows), "\r\n"
    )


def write_celeba_partition(path: Path, partition: np.ndarray) -> Path:
    """``list_eval_partition.txt``: ``000001.jpg 0`` rows, no header (CRLF)."""
    return write_lines(
        path, (f"{celeba_name(i)} {p}" for i, p in enumerate(partition.tolist())), "\r\n"
    )


def write_celeba_identity(path: Path, identity: np.ndarray) -> Path:
    """``identity_CelebA.txt``: ``000001.jpg 2880`` rows, no header (CRLF)."""
    return write_lines(
        path, (f"{celeba_name(i)} {k}" for i, k in enumerate(identity.tolist())), "\r\n"
    )


def write_celeba_bbox(path: Path, boxes: np.ndarray) -> Path:
    """``list_bbox_celeba.txt``: count, ``image_id x_1 y_1 width height``, right-aligned (CRLF)."""
    rows = (
        f"{celeba_name(i)}{x:6d}{y:4d}{w:4d}{h:4d}" for i, (x, y, w, h) in enumerate(boxes.tolist())
    )
    header = [str(len(boxes)), " ".join(("image_id", *BBOX_COLUMNS))]
    return write_lines(path, chain(header, rows), "\r\n")


def write_celeba_landmarks(path: Path, marks: np.ndarray) -> Path:
    """``list_landmarks_align_celeba.txt``: count, 10 names, ``000001.jpg 69  109 …`` (CRLF)."""
    rows = (
        f"{celeba_name(i)} {r[0]}" + "".join(f"{v:5d}" for v in r[1:])
        for i, r in enumerate(marks.tolist())
    )
    return write_lines(path, chain([str(len(marks)), " ".join(LANDMARK_COLUMNS)], rows), "\r\n")


def write_hq_attributes(path: Path, values: np.ndarray) -> Path:
    """``CelebAMask-HQ-attribute-anno.txt``: count, names, ``0.jpg  -1 1 …`` (LF)."""
    signed = values.astype(np.int8) * 2 - 1
    rows = (f"{j}.jpg  " + " ".join(map(str, row)) for j, row in enumerate(signed.tolist()))
    return write_lines(path, chain([str(len(values)), " ".join(ATTRIBUTE_NAMES)], rows), "\n")


def write_hq_pose(path: Path, pose: np.ndarray) -> Path:
    """``CelebAMask-HQ-pose-anno.txt``: count, ``Yaw Pitch Raw`` (sic), float32 values (LF)."""
    pose = pose.astype(np.float32)
    rows = (f"{j}.jpg " + " ".join(str(v) for v in row) for j, row in enumerate(pose))
    return write_lines(path, chain([str(len(pose)), "Yaw Pitch Raw"], rows), "\n")


def write_hq_mapping(path: Path, orig: np.ndarray) -> Path:
    """``CelebA-HQ-to-CelebA-mapping.txt``: ``idx orig_idx orig_file`` in 11-wide columns (LF)."""
    rows = (f"{j:<11d}{k:<11d}{celeba_name(k)}" for j, k in enumerate(orig.tolist()))
    return write_lines(path, chain([f"{'idx':<11}{'orig_idx':<11}orig_file"], rows), "\n")
