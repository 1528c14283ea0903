"""Batched inference on a loaded run: the one loop behind evaluate, predict and training's end.

Every consumer of a trained run (evaluation, prediction, threshold tuning after training, and the
embedding, explanation and generation packages) needs the same three things: the images of a
split (or of files) as uint8 batches cropped and resized exactly as the run was trained, the
model input made from them, and a forward pass with or without gradients. They live here once:

- :func:`iter_split_batches` yields :class:`ImageBatch` objects over a split or explicit table
  rows, slicing the packed cache when one of the run's size and crop exists (one memmap read per
  batch) and otherwise decoding the files with :func:`celebalab.datasets.decode.load_resized`,
  the function that built the pack, in a thread pool one batch ahead. Unreadable images are
  skipped and listed in ``.skipped``, never raised.
- :func:`model_input` turns uint8 images into the normalised float tensor on the run's device:
  the tensor attribution methods differentiate with respect to
  (``x = model_input(run, imgs).requires_grad_(); run.model(x)`` is the gradient-enabled forward).
- :func:`predict_logits` (no grad, eval mode) and :func:`extract_features` (penultimate layer).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from celebalab.datasets.decode import image_error_text, load_resized
from celebalab.datasets.schema import LANDMARK_COLUMNS
from celebalab.errors import CelebalabError
from celebalab.models.architectures import classifier_head, normalise_uint8
from celebalab.models.run import LoadedRun
from celebalab.runtime import check_split

if TYPE_CHECKING:
    import pandas as pd

    from celebalab.alignment import FacePrep
    from celebalab.models.data import Splits

__all__ = [
    "ImageBatch",
    "SplitBatches",
    "decode_batches",
    "extract_features",
    "iter_split_batches",
    "model_input",
    "predict_logits",
    "predict_probabilities",
    "prepared_batches",
    "run_splits",
]

#: Decoding threads when ``workers`` is not given (Pillow releases the GIL while decoding).
MAX_DEFAULT_WORKERS = 8


@dataclass(frozen=True)
class ImageBatch:
    """One batch of a split: ``images`` uint8 ``N×3×S×S`` (CPU), ``rows`` int64 indices into
    ``load_table(root)``, ``image_ids`` the matching file names."""

    images: torch.Tensor
    rows: np.ndarray
    image_ids: list[str]

    def __len__(self) -> int:
        return len(self.rows)


class SplitBatches:
    """An iterable of :class:`ImageBatch` over table rows (re-iterable; each pass re-reads).

    ``source`` says where the pixels come from (``"packed cache"`` or ``"image files"``);
    ``skipped`` lists ``(image_id, reason)`` of the rows whose image is unreadable, complete once
    an iteration has finished (for a packed cache it is known before the first batch).
    ``table`` is the metadata table the rows index.
    """

    def __init__(
        self,
        *,
        table: pd.DataFrame,
        rows: np.ndarray,
        batch_size: int,
        reader: Callable[[np.ndarray], Iterator[tuple[np.ndarray, np.ndarray, list]]],
        source: str,
        progress: bool,
    ) -> None:
        self.table = table
        self.rows = rows
        self.batch_size = batch_size
        self.source = source
        self.progress = progress
        self.skipped: list[tuple[str, str]] = []
        self._reader = reader
        self._ids = table["image_id"].to_numpy()

    def __len__(self) -> int:
        """Number of batches (before unreadable images are dropped)."""
        return -(-len(self.rows) // self.batch_size)

    def __iter__(self) -> Iterator[ImageBatch]:
        from tqdm.auto import tqdm

        self.skipped = []
        bar = tqdm(total=len(self.rows), unit="img", disable=not self.progress, leave=False)
        with bar:
            for kept, images, failed in self._reader(self.rows):
                self.skipped.extend((str(self._ids[row]), reason) for row, reason in failed)
                bar.update(len(kept) + len(failed))
                if len(kept):
                    yield ImageBatch(
                        images=torch.from_numpy(images).permute(0, 3, 1, 2),
                        rows=kept,
                        image_ids=self._ids[kept].astype(str).tolist(),
                    )


def iter_split_batches(
    run: LoadedRun,
    root: str | Path,
    split: str = "test",
    *,
    batch_size: int = 256,
    rows: Sequence[int] | np.ndarray | None = None,
    workers: int | None = None,
    progress: bool = False,
) -> SplitBatches:
    """Batches of ``split`` of the dataset at ``root`` (or of explicit table ``rows``) for ``run``.

    ``split`` is ``"train"``, ``"val"``, ``"test"`` (the partition as training defined it: the
    official one, or the run's seeded split when the dataset has none) or ``"all"``. Images are
    ``run.image_size`` square, cropped as ``run.crop`` says. ``workers`` decoding threads are
    used when no packed cache exists (default: the CPU count, at most 8; 0 decodes in the
    calling thread). Raises :class:`CelebalabError` for a bad split, batch size or worker count.
    """
    check_split(split)
    if batch_size < 1:
        raise CelebalabError(f"--batch-size must be >= 1, got {batch_size}")
    if workers is not None and workers < 0:
        raise CelebalabError(f"--workers must be >= 0, got {workers}")
    from celebalab.datasets.table import load_table

    table = load_table(root)
    if rows is None:
        chosen = np.arange(len(table)) if split == "all" else run_splits(run, table).rows[split]
    else:
        chosen = np.asarray(rows, dtype=np.int64).reshape(-1)
        if len(chosen) and (chosen.min() < 0 or chosen.max() >= len(table)):
            raise CelebalabError(f"{root}: rows must lie in 0…{len(table) - 1}")
    return _split_batches(run, Path(root), table, chosen.astype(np.int64), batch_size, workers,
                          progress)  # fmt: skip


def run_splits(run: LoadedRun, table: pd.DataFrame) -> Splits:
    """The split of ``table`` that training of ``run`` used (official, or seeded by its seed)."""
    from celebalab.models.data import make_splits

    seed = int((run.config.get("training") or {}).get("seed", 0))
    return make_splits(table, run.attribute_names, seed)


def _split_batches(
    run: LoadedRun,
    root: Path,
    table: pd.DataFrame,
    rows: np.ndarray,
    batch_size: int,
    workers: int | None,
    progress: bool,
) -> SplitBatches:
    from celebalab.datasets.packed import PackedImages

    size, crop = run.image_size, run.crop
    ids = table["image_id"].astype(str).tolist()
    prep = run.face_prep
    if prep.method != "crop":
        reader: Any = _aligned_reader(table, ids, prep, batch_size, workers)
        source = f"image files aligned ({prep.describe()})"
        return SplitBatches(table=table, rows=rows, batch_size=batch_size, reader=reader,
                            source=source, progress=progress)  # fmt: skip
    pack = PackedImages.open(root, size, crop, image_ids=ids)
    if pack is not None:
        reader = _packed_reader(pack, batch_size)
        source = "packed cache"
    else:
        reader = _file_reader(Path(table.attrs["image_dir"]), ids, size, crop, batch_size, workers)
        source = "image files"
    return SplitBatches(table=table, rows=rows, batch_size=batch_size, reader=reader,
                        source=source, progress=progress)  # fmt: skip


def _packed_reader(pack: Any, batch_size: int) -> Callable[[np.ndarray], Iterator[Any]]:
    """Memmap slices of the pack (whose rows are the table's: ``open`` checked the ids)."""
    valid = np.asarray(pack.valid)
    reasons = {c["image_id"]: c["reason"] for c in pack.manifest.get("corrupt", [])}

    def read(rows: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray, list]]:
        for start in range(0, len(rows), batch_size):
            batch = rows[start : start + batch_size]
            ok = valid[batch]
            failed = [
                (int(r), f"unreadable image ({reasons.get(pack.image_ids[r], 'corrupt')})")
                for r in batch[~ok]
            ]
            yield batch[ok], np.ascontiguousarray(pack.images[batch[ok]]), failed

    return read


def _file_reader(
    image_dir: Path, ids: list[str], size: int, crop: str, batch_size: int, workers: int | None
) -> Callable[[np.ndarray], Iterator[Any]]:
    """Images of table rows decoded from their files, as the pack would have decoded them."""

    def read(rows: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray, list]]:
        paths = [image_dir / ids[r] for r in rows]
        for kept, images, failed in decode_batches(paths, size, crop, batch_size, workers):
            yield rows[kept], images, [(int(rows[i]), reason) for i, reason in failed]

    return read


def _aligned_reader(
    table: pd.DataFrame, ids: list[str], prep: FacePrep, batch_size: int, workers: int | None
) -> Callable[[np.ndarray], Iterator[Any]]:
    """Images of table rows aligned for the run: from the dataset's landmarks when it has them
    (CelebA; warps in ``workers`` threads, one batch ahead), else through dlib's detector, and
    always for dlib's own chips (``workers`` processes: dlib holds the GIL). An image without a
    face is skipped with its reason."""
    from celebalab.alignment import prepare_files

    image_dir = Path(table.attrs["image_dir"])
    marks = None
    if set(LANDMARK_COLUMNS) <= set(table.columns):
        marks = table[list(LANDMARK_COLUMNS)].to_numpy(np.float64).reshape(-1, 5, 2)

    def warped(rows: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray, list]]:
        paths = [image_dir / ids[r] for r in rows]

        def load(position: int) -> np.ndarray:
            return prep.load(paths[position], marks[rows[position]]).image  # type: ignore[index]

        for kept, images, failed in decode_batches(paths, prep.size, "none", batch_size, workers,
                                                   load=load):  # fmt: skip
            yield rows[kept], images, [(int(rows[i]), reason) for i, reason in failed]

    def detected(rows: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray, list]]:
        for start in range(0, len(rows), batch_size):
            batch = rows[start : start + batch_size]
            outcomes = prepare_files(prep, [image_dir / ids[r] for r in batch],
                                     None if marks is None else marks[batch], workers)  # fmt: skip
            kept, images, failed = _assemble(0, [(im, why) for im, why, _ in outcomes], prep.size)
            yield batch[kept], images, [(int(batch[i]), why) for i, why in failed]

    return detected if prep.method == "dlib" or marks is None else warped


def prepared_batches(
    run: LoadedRun,
    files: Sequence[Path],
    batch_size: int,
    workers: int | None = None,
    *,
    detect: str = "auto",
    notes: list[tuple[str, str]] | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray, list[tuple[int, str]]]]:
    """:func:`decode_batches` of image files made into ``run``'s input by its :class:`FacePrep`.

    A celebalab run's CelebA-aligned image (178×218) is cropped exactly as in training; other
    photos, and every file for an imported recogniser, go through dlib's detector and 5-point
    predictor (``detect``: ``auto``, ``always``, ``never``; see :meth:`FacePrep.load`). A file
    without a face is skipped with its reason; ``notes`` receives ``(path, note)`` such as
    "3 faces found; the largest was used".
    """
    prep = run.face_prep
    said: dict[int, str] = {}

    def load(position: int) -> np.ndarray:
        prepared = prep.load(files[position], detect=detect)
        if prepared.note:
            said[position] = prepared.note
        return prepared.image

    yield from decode_batches(files, run.image_size, run.crop, batch_size, workers, load=load)
    if notes is not None:
        notes.extend((str(files[i]), note) for i, note in sorted(said.items()))


Decoded = tuple["np.ndarray | None", str]


def decode_batches(
    paths: Sequence[Path],
    size: int,
    crop: str,
    batch_size: int,
    workers: int | None = None,
    *,
    load: Callable[[int], np.ndarray] | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray, list[tuple[int, str]]]]:
    """Decode ``paths`` in batches, the next batch decoding while the caller uses this one.

    Yields ``(positions kept, uint8 k×S×S×3, [(position, reason), …] unreadable)``, positions
    being indices into ``paths``. Decoding runs in ``workers`` threads (default: CPU count, at
    most 8; 0: in the calling thread). ``load(position)`` replaces the crop-and-resize decoder
    (aligned inputs); a :class:`CelebalabError` it raises (no face found) skips the image too.
    """
    threads = min(MAX_DEFAULT_WORKERS, os.cpu_count() or 1) if workers is None else workers
    starts = range(0, len(paths), batch_size)

    def one(position: int) -> Decoded:
        if load is None:
            return _decode(paths[position], size, crop)
        try:
            return load(position), ""
        except CelebalabError as err:
            return None, str(err)
        except Exception as err:  # any decoder failure skips the file
            return None, f"unreadable image ({image_error_text(paths[position], err)})"

    if threads == 0:
        for start in starts:
            stop = min(start + batch_size, len(paths))
            yield _assemble(start, [one(i) for i in range(start, stop)], size)
        return
    with ThreadPoolExecutor(threads) as pool:

        def submit(start: int) -> list[Future[Decoded]]:
            stop = min(start + batch_size, len(paths))
            return [pool.submit(one, i) for i in range(start, stop)]

        pending = submit(0) if len(paths) else []
        for start in starts:
            current = pending
            if start + batch_size < len(paths):
                pending = submit(start + batch_size)
            yield _assemble(start, [f.result() for f in current], size)


def _decode(path: Path, size: int, crop: str) -> Decoded:
    """The S×S×3 uint8 image of ``path``, or None and a one-line reason it cannot be read."""
    try:
        return load_resized(path, size, crop), ""
    except Exception as err:  # any decoder failure (truncated, not an image, …) skips the file
        return None, f"unreadable image ({image_error_text(path, err)})"


def _assemble(
    start: int, decoded: list[Decoded], size: int
) -> tuple[np.ndarray, np.ndarray, list[tuple[int, str]]]:
    kept = [start + i for i, (image, _) in enumerate(decoded) if image is not None]
    failed = [(start + i, reason) for i, (image, reason) in enumerate(decoded) if image is None]
    images = [image for image, _ in decoded if image is not None]
    stacked = np.stack(images) if images else np.zeros((0, size, size, 3), np.uint8)
    return np.asarray(kept, dtype=np.int64), stacked, failed


def model_input(run: LoadedRun, images_uint8: torch.Tensor | np.ndarray) -> torch.Tensor:
    """uint8 images ``N×3×S×S`` (or ``N×S×S×3``, as the pack stores them) → model input.

    Returns float32 ``N×3×S×S``, normalised as the run was trained, on ``run.device``, in
    channels-last memory format. ``S`` must be ``run.image_size``. The result does not require
    grad; call ``.requires_grad_()`` on it for attributions.
    """
    tensor = torch.as_tensor(images_uint8)
    if tensor.dtype != torch.uint8:
        raise ValueError(f"expected uint8 images, got {tensor.dtype}")
    if tensor.ndim != 4 or 3 not in (tensor.shape[1], tensor.shape[-1]):
        raise ValueError(f"expected N×3×S×S or N×S×S×3 images, got shape {tuple(tensor.shape)}")
    side = tensor.shape[2] if tensor.shape[1] == 3 else tensor.shape[1]
    if side != run.image_size or tensor.shape[-2] not in (run.image_size, 3):
        raise ValueError(f"expected {run.image_size} px images, got shape {tuple(tensor.shape)}")
    norm = run.config["normalisation"]
    return normalise_uint8(tensor.to(run.device), norm["mean"], norm["std"], channels_last=True)


def predict_logits(run: LoadedRun, images_uint8: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Logits ``N×A`` (float32, on ``run.device``, no grad, model in eval mode) of uint8 images.

    Computed under ``torch.no_grad`` rather than inference mode, so the result is an ordinary
    tensor that later autograd code (a probe, a loss) may use.
    """
    x = model_input(run, images_uint8)
    run.model.eval()
    with torch.no_grad():
        return run.model(x).float()


def extract_features(run: LoadedRun, images_uint8: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Penultimate features ``N×F`` (float32, on ``run.device``, no grad) of uint8 images.

    The input of the final linear layer (:func:`celebalab.models.architectures.classifier_head`),
    i.e. the pooled features after the (eval-mode, identity) dropout, for every architecture
    in ``ARCHITECTURES``: ``logits == features @ head.weight.T + head.bias``. For an identity
    run (``task == "identity"``) the features are its embedding: the network's output,
    L2-normalised (see :mod:`celebalab.models.identity_module`). An imported attribute model's
    features are its 40 logits.
    """
    if run.task == "identity":
        return torch.nn.functional.normalize(predict_logits(run, images_uint8), dim=1)
    if run.imported:  # an imported classifier exposes no inner layer: its logits are its features
        return predict_logits(run, images_uint8)
    x = model_input(run, images_uint8)
    captured: list[torch.Tensor] = []
    hook = classifier_head(run.model).register_forward_pre_hook(
        lambda _module, args: captured.append(args[0])
    )
    run.model.eval()
    try:
        with torch.no_grad():
            run.model(x)
    finally:
        hook.remove()
    return captured[0].float()


def predict_probabilities(run: LoadedRun, batches: SplitBatches) -> tuple[np.ndarray, np.ndarray]:
    """Sigmoid probabilities of every readable row of ``batches``: (rows kept, n×A float32)."""
    rows: list[np.ndarray] = [np.zeros(0, np.int64)]
    probs: list[np.ndarray] = [np.zeros((0, len(run.attribute_names)), np.float32)]
    for batch in batches:
        rows.append(batch.rows)
        probs.append(torch.sigmoid(predict_logits(run, batch.images)).cpu().numpy())
    return np.concatenate(rows), np.concatenate(probs).astype(np.float32)
