"""Tiny CelebA / Kaggle / CelebAMask-HQ folders written byte for byte in the published formats.

Shared by the data-layer tests (a helper module, not a test file). Formats follow the samples in
tests/data/formats: CRLF, count lines, the trailing space after the attribute header, runs of
spaces between columns, the Kaggle CSVs and the LF files of CelebAMask-HQ.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from celebalab.datasets.schema import ATTRIBUTE_NAMES, BBOX_COLUMNS, LANDMARK_COLUMNS

IMAGE_SIZE = (18, 22)  # width, height: a tiny 178×218-like portrait


def celeba_truth(n: int = 12, seed: int = 0) -> pd.DataFrame:
    """Random ground truth for ``n`` CelebA images (partition: first 60 % train, then val, test)."""
    rng = np.random.default_rng(seed)
    ids = [f"{i + 1:06d}.jpg" for i in range(n)]
    partition = np.where(np.arange(n) < 0.6 * n, 0, np.where(np.arange(n) < 0.8 * n, 1, 2))
    frame = pd.DataFrame({"image_id": ids, "partition": partition.astype(np.int8)})
    frame["identity"] = rng.integers(1, 5, n).astype(np.int32)
    attrs = rng.integers(0, 2, (n, len(ATTRIBUTE_NAMES))).astype(np.uint8)
    frame[list(ATTRIBUTE_NAMES)] = attrs
    frame[list(LANDMARK_COLUMNS)] = rng.integers(60, 160, (n, len(LANDMARK_COLUMNS))).astype(
        np.int16
    )
    frame[list(BBOX_COLUMNS)] = rng.integers(10, 900, (n, len(BBOX_COLUMNS))).astype(np.int32)
    return frame


def write_image(path: Path, seed: int, size: tuple[int, int] = IMAGE_SIZE) -> None:
    """A small random RGB image (JPEG or PNG by suffix)."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


def _pm(values: np.ndarray) -> np.ndarray:
    return np.where(values > 0, 1, -1)


def official_texts(truth: pd.DataFrame, eol: str = "\r\n") -> dict[str, str]:
    """The five official annotation files of ``truth``, as text."""
    n = len(truth)
    ids = truth["image_id"].tolist()
    attrs = _pm(truth[list(ATTRIBUTE_NAMES)].to_numpy())
    marks = truth[list(LANDMARK_COLUMNS)].to_numpy()
    boxes = truth[list(BBOX_COLUMNS)].to_numpy()
    return {
        "list_attr_celeba.txt": f"{n}{eol}{' '.join(ATTRIBUTE_NAMES)} {eol}"
        + _rows(ids, (fmt_row(row, "{:3d}") for row in attrs), eol),
        "list_eval_partition.txt": _rows(ids, (f" {p}" for p in truth["partition"]), eol),
        "identity_CelebA.txt": _rows(ids, (f" {p}" for p in truth["identity"]), eol),
        "list_landmarks_align_celeba.txt": f"{n}{eol}{' '.join(LANDMARK_COLUMNS)}{eol}"
        + _rows(ids, (fmt_row(row, " {:4d}") for row in marks), eol),
        "list_bbox_celeba.txt": f"{n}{eol}image_id x_1 y_1 width height{eol}"
        + _rows(ids, (" " + fmt_row(row, "{:4d}") for row in boxes), eol),
    }


def fmt_row(values: np.ndarray, fmt: str) -> str:
    """Values formatted with ``fmt`` each and concatenated (the published column spacing)."""
    return "".join(fmt.format(v) for v in values)


def _rows(ids: list[str], rests: object, eol: str) -> str:
    return "".join(f"{i}{rest}{eol}" for i, rest in zip(ids, rests, strict=True))


def write_official(
    root: Path,
    truth: pd.DataFrame,
    eol: str = "\r\n",
    subdirs: bool = False,
    image_folder: str = "img_align_celeba",
    ext: str = ".jpg",
) -> Path:
    """An official-layout copy (files in ``root`` or in ``Anno/``/``Eval/``) with images."""
    for name, text in official_texts(truth, eol).items():
        folder = root / (("Eval" if "partition" in name else "Anno") if subdirs else "")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(text.encode())
    for seed, image_id in enumerate(truth["image_id"]):
        write_image(root / image_folder / (image_id[:-4] + ext), seed)
    return root


def write_kaggle(root: Path, truth: pd.DataFrame) -> Path:
    """A Kaggle-layout copy: CSVs (values -1/1), images in the doubled folder, no identities."""
    root.mkdir(parents=True, exist_ok=True)
    attrs = truth[["image_id", *ATTRIBUTE_NAMES]].copy()
    attrs[list(ATTRIBUTE_NAMES)] = _pm(attrs[list(ATTRIBUTE_NAMES)].to_numpy())
    attrs.to_csv(root / "list_attr_celeba.csv", index=False)
    truth[["image_id", "partition"]].to_csv(root / "list_eval_partition.csv", index=False)
    truth[["image_id", *BBOX_COLUMNS]].to_csv(root / "list_bbox_celeba.csv", index=False)
    truth[["image_id", *LANDMARK_COLUMNS]].to_csv(
        root / "list_landmarks_align_celeba.csv", index=False
    )
    for seed, image_id in enumerate(truth["image_id"]):
        write_image(root / "img_align_celeba" / "img_align_celeba" / image_id, seed)
    return root


#: Part shapes of the tiny HQ masks: (class, rows, cols) rectangles in a 16×16 mask.
HQ_PARTS = (
    ("skin", slice(3, 14), slice(3, 13)),
    ("hair", slice(0, 6), slice(2, 14)),
    ("l_eye", slice(6, 8), slice(4, 6)),
    ("eye_g", slice(5, 9), slice(3, 13)),
    ("hat", slice(0, 3), slice(0, 16)),
)


def write_hq(root: Path, n: int = 6, seed: int = 0, mask_size: int = 16) -> pd.DataFrame:
    """A CelebAMask-HQ copy with ``n`` images (32×32 JPEGs), LF files and per-class masks.

    Returns the truth: attributes, ``orig_idx`` (the CelebA row of each HQ image) and ``pose``.
    """
    rng = np.random.default_rng(seed)
    attrs = rng.integers(0, 2, (n, len(ATTRIBUTE_NAMES)))
    orig_idx = rng.choice(202_599, n, replace=False)
    pose = rng.normal(0, 10, (n, 3)).round(4)
    root.mkdir(parents=True, exist_ok=True)
    (root / "CelebAMask-HQ-attribute-anno.txt").write_text(
        f"{n}\n{' '.join(ATTRIBUTE_NAMES)}\n"
        + "".join(f"{i}.jpg  " + " ".join(map(str, _pm(r))) + "\n" for i, r in enumerate(attrs))
    )
    (root / "CelebAMask-HQ-pose-anno.txt").write_text(
        f"{n}\nYaw Pitch Raw\n"
        + "".join(f"{i}.jpg {a} {b} {c}\n" for i, (a, b, c) in enumerate(pose))
    )
    (root / "CelebA-HQ-to-CelebA-mapping.txt").write_text(
        "idx        orig_idx   orig_file\n"
        + "".join(f"{i:<11d}{o:<11d}{o + 1:06d}.jpg\n" for i, o in enumerate(orig_idx))
    )
    for i in range(n):
        write_image(root / "CelebA-HQ-img" / f"{i}.jpg", i, (32, 32))
        for part, rows, cols in HQ_PARTS:
            mask = np.zeros((mask_size, mask_size), dtype=np.uint8)
            mask[rows, cols] = 255
            path = root / "CelebAMask-HQ-mask-anno" / str(i // 2000) / f"{i:05d}_{part}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(mask).save(path)
    truth = pd.DataFrame({"image_id": [f"{i}.jpg" for i in range(n)], "orig_idx": orig_idx})
    truth[list(ATTRIBUTE_NAMES)] = attrs.astype(np.uint8)
    truth[["yaw", "pitch", "roll"]] = pose.astype(np.float32)
    return truth
