"""Find how a CelebA or CelebAMask-HQ copy is laid out on disk, or say clearly why it is not one.

Accepted layouts:

* ``official`` CelebA: annotation ``.txt`` files in the root or in ``Anno/`` and ``Eval/``, images
  in ``img_align_celeba/`` (``.jpg``) or ``img_align_celeba_png/`` (``.png``), also under ``Img/``
  or doubled (``img_align_celeba/img_align_celeba/``, the zip extracted into its own name);
* ``kaggle`` CelebA: ``.csv`` files in the root, images in ``img_align_celeba/img_align_celeba/``,
  optionally with the official ``identity_CelebA.txt`` (the one file Kaggle lacks);
* both sets in one folder (people who downloaded both): the official files are read and the
  Kaggle CSVs are kept in ``DatasetLayout.copies`` to be checked against them;
* ``celebamask_hq``: ``CelebA-HQ-img/``, ``CelebAMask-HQ-mask-anno/`` and the HQ ``.txt`` files.

A path one folder too deep (the image folder, ``Anno/``) or one folder too high (a folder holding
exactly one dataset) is accepted; anything ambiguous is an error that names the choices.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from celebalab.errors import DatasetLayoutError

IMAGE_EXTENSIONS: tuple[str, ...] = (".jpg", ".jpeg", ".png")
HQ_IMAGE_DIR, HQ_MASK_DIR = "CelebA-HQ-img", "CelebAMask-HQ-mask-anno"

#: Annotation kind → file name, per layout (``read_annotation`` kinds).
OFFICIAL_FILES: MappingProxyType[str, str] = MappingProxyType(
    {
        "attributes": "list_attr_celeba.txt",
        "partition": "list_eval_partition.txt",
        "identity": "identity_CelebA.txt",
        "bbox": "list_bbox_celeba.txt",
        "landmarks": "list_landmarks_align_celeba.txt",
    }
)
KAGGLE_FILES: MappingProxyType[str, str] = MappingProxyType(
    {
        "attributes": "list_attr_celeba.csv",
        "partition": "list_eval_partition.csv",
        "bbox": "list_bbox_celeba.csv",
        "landmarks": "list_landmarks_align_celeba.csv",
    }
)
HQ_FILES: MappingProxyType[str, str] = MappingProxyType(
    {
        "attributes": "CelebAMask-HQ-attribute-anno.txt",
        "pose": "CelebAMask-HQ-pose-anno.txt",
        "hq_mapping": "CelebA-HQ-to-CelebA-mapping.txt",
    }
)
_OFFICIAL_SUBDIRS = ("", "Anno", "Eval")
_OFFICIAL_IMAGE_DIRS = (
    "img_align_celeba",
    "img_align_celeba_png",
    "Img/img_align_celeba",
    "Img/img_align_celeba_png",
    "img_align_celeba/img_align_celeba",  # the zip extracted into a folder of its own name
)
_KAGGLE_IMAGE_DIRS = ("img_align_celeba/img_align_celeba", "img_align_celeba")
_ARCHIVES = {
    "img_align_celeba": ("img_align_celeba.zip", "Img/img_align_celeba.zip", "img_align_celeba.7z"),
    HQ_IMAGE_DIR: ("CelebAMask-HQ.zip",),
}
_EXPECTED = (
    "expected list_attr_celeba.txt + img_align_celeba/ (official CelebA), list_attr_celeba.csv + "
    "img_align_celeba/img_align_celeba/ (Kaggle CelebA), or CelebA-HQ-img/ + "
    "CelebAMask-HQ-attribute-anno.txt (CelebAMask-HQ)"
)


@dataclass(frozen=True)
class DatasetLayout:
    """Where everything of one dataset copy lives."""

    kind: str  # "official", "kaggle" or "celebamask_hq"
    root: Path
    image_dir: Path
    image_ext: str  # extension of the image files on disk (".png" for img_align_celeba_png)
    files: MappingProxyType[str, Path]  # annotation kind → path, only files that exist
    mask_dir: Path | None = None
    #: Twins of ``files`` from the other set (Kaggle CSVs beside official txt files, or the
    #: reverse), kind → path: not read as data, only checked to agree with ``files``.
    copies: MappingProxyType[str, Path] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def dataset(self) -> str:
        """``"celeba"`` or ``"celebamask_hq"``."""
        return "celebamask_hq" if self.kind == "celebamask_hq" else "celeba"

    @property
    def annotation_set(self) -> str:
        """Which annotation files are read, in words (for ``info``, ``verify`` and run records)."""
        if self.kind == "celebamask_hq":
            return "CelebAMask-HQ txt files"
        read = "Kaggle CSV files" if self.kind == "kaggle" else "official txt files"
        if self.copies:
            names = ", ".join(p.name for p in self.copies.values())
            return f"{read} (checked against the copies beside them: {names})"
        return read

    def image_path(self, image_id: str) -> Path:
        """The file of an annotated image id (``000001.jpg`` → ``…/000001.png`` for the PNGs)."""
        return self.image_dir / image_file_name(image_id, self.image_ext)

    def __reduce__(self) -> tuple:
        """Pickle (DataLoader workers) with the read-only mappings as plain dicts."""
        fields = (self.kind, self.root, self.image_dir, self.image_ext, dict(self.files),
                  self.mask_dir, dict(self.copies))  # fmt: skip
        return (_unpickle_layout, fields)


def _unpickle_layout(
    kind: str, root: Path, image_dir: Path, image_ext: str, files: dict, mask_dir: Path | None,
    copies: dict,
) -> DatasetLayout:  # fmt: skip
    return DatasetLayout(kind, root, image_dir, image_ext, MappingProxyType(files), mask_dir,
                         MappingProxyType(copies))  # fmt: skip


def image_file_name(image_id: str, image_ext: str) -> str:
    """The on-disk name of an annotated image id: ids say ``.jpg`` even for the PNG variant."""
    return os.path.splitext(image_id)[0] + image_ext


def detect_layout(root: str | Path) -> DatasetLayout:
    """Detect the layout of ``root`` (or of the one dataset just above/below it)."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DatasetLayoutError(f"{root}: no such folder ({_EXPECTED})")
    root = root.resolve()
    inside = root.name in _ALL_DIR_NAMES or root.parent.name in _ALL_DIR_NAMES
    for candidate in (root.parent, root.parent.parent, root) if inside else (root,):
        found = _detect_here(candidate)
        if found is not None:
            return found
    children = [c for c in _subdirs(root) if _looks_like_dataset(c)]
    if len(children) == 1:
        found = _detect_here(children[0])
        if found is not None:
            return found
    if len(children) > 1:
        names = ", ".join(c.name for c in children)
        raise DatasetLayoutError(f"{root} holds several datasets ({names}); pass one of them")
    archives = _archives(root)
    if archives:
        raise DatasetLayoutError(
            f"{root} is not a CelebA or CelebAMask-HQ folder but holds {', '.join(archives)}: "
            "extract the download first"
        )
    raise DatasetLayoutError(f"{root} is not a CelebA or CelebAMask-HQ folder: {_EXPECTED}")


def _archives(root: Path) -> list[str]:
    """Names of the archive files directly in ``root`` (a Kaggle ``archive.zip`` and the like)."""
    try:
        names = sorted(p.name for p in root.iterdir() if p.is_file())
    except OSError:
        return []
    return [n for n in names if n.lower().endswith((".zip", ".7z", ".tar", ".tar.gz", ".tgz"))]


_ALL_DIR_NAMES = {
    "Anno",
    "Eval",
    "Img",
    HQ_IMAGE_DIR,
    HQ_MASK_DIR,
    "img_align_celeba",
    "img_align_celeba_png",
}


def _subdirs(root: Path) -> list[Path]:
    try:
        return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:
        return []


def _looks_like_dataset(folder: Path) -> bool:
    markers = (*OFFICIAL_FILES.values(), *KAGGLE_FILES.values(), *HQ_FILES.values(), HQ_IMAGE_DIR)
    return any((folder / sub / m).exists() for sub in _OFFICIAL_SUBDIRS for m in markers)


def _detect_here(root: Path) -> DatasetLayout | None:
    """The layout of ``root`` itself; None when ``root`` holds no dataset marker at all."""
    official = _find_files(root, OFFICIAL_FILES, _OFFICIAL_SUBDIRS)
    kaggle = _find_files(root, KAGGLE_FILES, ("",))
    hq = _find_files(root, HQ_FILES, ("",))
    if (root / HQ_IMAGE_DIR).is_dir() or hq:
        return _hq_layout(root, hq)
    copies: dict[str, Path] = {}
    if official and kaggle:  # both downloaded (or Kaggle + the official identity file): read one
        main, other = (official, kaggle) if "attributes" in official else (kaggle, official)
        copies = {k: p for k, p in other.items() if k in main}  # twins: checked against `main`
        main.update({k: p for k, p in other.items() if k not in main})  # the rest: read
        other.clear()
    if official or kaggle:
        kind, files = ("official", official) if official else ("kaggle", kaggle)
        if "attributes" not in files:
            wanted = (OFFICIAL_FILES if official else KAGGLE_FILES)["attributes"]
            raise DatasetLayoutError(f"{root}: {wanted} is missing (needed for every image)")
        dirs = _OFFICIAL_IMAGE_DIRS if kind == "official" else _KAGGLE_IMAGE_DIRS
        image_dir, ext = _image_dir(root, dirs, "img_align_celeba")
        return DatasetLayout(
            kind, root, image_dir, ext, MappingProxyType(files), None, MappingProxyType(copies)
        )
    for folder in _ARCHIVES:
        _check_not_zipped(root, folder)
    return None


def _hq_layout(root: Path, files: dict[str, Path]) -> DatasetLayout:
    if "attributes" not in files:
        raise DatasetLayoutError(f"{root}: {HQ_FILES['attributes']} is missing")
    image_dir, ext = _image_dir(root, (HQ_IMAGE_DIR,), HQ_IMAGE_DIR)
    mask_dir = root / HQ_MASK_DIR
    return DatasetLayout(
        "celebamask_hq",
        root,
        image_dir,
        ext,
        MappingProxyType(files),
        mask_dir if mask_dir.is_dir() else None,
    )


def _find_files(root: Path, names: MappingProxyType[str, str], subdirs: tuple[str, ...]) -> dict:
    """Annotation kind → path of the files present; a folder or a broken link standing where
    one should be is an error (silently skipping it would lose, e.g., the official partition)."""
    found: dict[str, Path] = {}
    for kind, name in names.items():
        for sub in subdirs:
            path = root / sub / name
            if path.is_file():
                found[kind] = path
                break
            if path.is_dir() or path.is_symlink():
                what = "a folder" if path.is_dir() else "a broken link"
                raise DatasetLayoutError(
                    f"{path}: is {what}, not an annotation file; replace it with the file "
                    "or remove it"
                )
    return found


def _image_dir(root: Path, candidates: tuple[str, ...], archive_key: str) -> tuple[Path, str]:
    """The first candidate folder holding images, with their extension; clear errors otherwise."""
    empty = None
    for name in candidates:
        folder = root / name
        if folder.is_dir():
            ext = _first_image_ext(folder)
            if ext is not None:
                return folder, ext
            empty = empty or folder
    if empty is not None:
        raise DatasetLayoutError(f"image folder {empty} contains no .jpg or .png images")
    _check_not_zipped(root, archive_key)
    raise DatasetLayoutError(f"{root}: image folder {root / candidates[0]} not found")


def _check_not_zipped(root: Path, folder: str) -> None:
    """Raise when the archive of ``folder`` lies in ``root`` but was never extracted."""
    if (root / folder).is_dir():
        return
    for archive in _ARCHIVES[folder]:
        if (root / archive).exists():
            raise DatasetLayoutError(
                f"{root / archive} is not extracted: unzip it into {root} "
                f"(expected {root / folder}/…)"
            )


def _first_image_ext(folder: Path) -> str | None:
    """Extension of the first image file found in ``folder`` (without listing the whole folder)."""
    with os.scandir(folder) as entries:
        for entry in entries:
            ext = os.path.splitext(entry.name)[1].lower()
            if ext in IMAGE_EXTENSIONS and entry.is_file():
                return ext
    return None


def find_celeba_beside(hq_root: Path) -> DatasetLayout | None:
    """A CelebA copy in a sibling folder of a CelebAMask-HQ root (``OUT/CelebA`` next to
    ``OUT/CelebAMask-HQ``), used for the HQ partition and identities; None if there is none."""
    for folder in _subdirs(hq_root.parent):
        if folder == hq_root or not _looks_like_dataset(folder):
            continue
        try:
            layout = _detect_here(folder)
        except DatasetLayoutError:
            continue
        if layout is not None and layout.dataset == "celeba":
            return layout
    return None
