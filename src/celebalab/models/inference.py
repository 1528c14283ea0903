"""Batched inference on a loaded run: the one loop behind evaluate, predict and training's end.

Every consumer of a trained run (evaluation, prediction, threshold tuning after training, and the
embedding, explanation and generation packages) needs the same three things: the images of a
split (or of files) as uint8 batches cropped and resized exactly as the run was trained, the
model input made from them, and a forward pass with or without gradients. They live here once:

- :func:`iter_split_batches` yields :class:`ImageBatch` objects over the present images of a
  split or of explicit table rows, read by the one row reader
  (:class:`celebalab.datasets.reader.RowReader`: the packed cache of the run's size and crop
  when one exists, else the files decoded in a thread pool one batch ahead, or aligned for an
  imported model's run). Unreadable images are skipped and listed in ``.skipped``, never raised.
- :func:`model_input` turns uint8 images into the normalised float tensor on the run's device:
  the tensor attribution methods differentiate with respect to
  (``x = model_input(run, imgs).requires_grad_(); run.model(x)`` is the gradient-enabled forward).
- :func:`predict_logits` (no grad, eval mode) and :func:`extract_features` (penultimate layer).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from celebalab import _progress
from celebalab.datasets.reader import decode_batches
from celebalab.errors import CelebalabError
from celebalab.models.architectures import classifier_head, normalise_uint8
from celebalab.models.run import LoadedRun
from celebalab.runtime import check_split

if TYPE_CHECKING:
    import pandas as pd

    from celebalab.datasets.dataset import DatasetLike
    from celebalab.datasets.reader import ImageSpec
    from celebalab.models.data import Splits

__all__ = [
    "ImageBatch",
    "SplitBatches",
    "decode_batches",
    "extract_features",
    "iter_split_batches",
    "model_input",
    "predict_logits",
    "predict_proba",
    "predict_probabilities",
    "prepared_batches",
    "run_image_spec",
    "run_splits",
]


@dataclass(frozen=True)
class ImageBatch:
    """One batch of a split: ``images`` uint8 ``N×3×S×S`` (CPU), ``rows`` int64 indices into
    the dataset's table, ``image_ids`` the matching file names."""

    images: torch.Tensor
    rows: np.ndarray
    image_ids: list[str]

    def __len__(self) -> int:
        return len(self.rows)


class SplitBatches:
    """An iterable of :class:`ImageBatch` over table rows (re-iterable; each pass re-reads).

    ``source`` says where the pixels come from (``"packed cache"`` or ``"image files"``);
    ``skipped`` lists ``(image_id, reason)`` of the rows whose image is unreadable, complete once
    an iteration has finished (for a packed cache it is known before the first batch);
    ``missing`` counts the requested rows left out because their file does not exist.
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
    ) -> None:
        self.table = table
        self.rows = rows
        self.batch_size = batch_size
        self.source = source
        self.skipped: list[tuple[str, str]] = []
        self.missing = 0
        self._reader = reader
        self._ids = table["image_id"].to_numpy()

    def __len__(self) -> int:
        """Number of batches (before unreadable images are dropped)."""
        return -(-len(self.rows) // self.batch_size)

    def __iter__(self) -> Iterator[ImageBatch]:
        self.skipped = []
        bar = _progress.bar(total=len(self.rows), unit="img", leave=False)
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


@_progress.legacy_progress
def iter_split_batches(
    run: LoadedRun,
    root: DatasetLike,
    split: str = "test",
    *,
    batch_size: int = 256,
    rows: Sequence[int] | np.ndarray | None = None,
    workers: int | None = None,
) -> SplitBatches:
    """Batches of ``split`` of the dataset at ``root`` (or of explicit table ``rows``) for ``run``.

    ``root`` is a :class:`~celebalab.datasets.dataset.Dataset` or its path. ``split`` is
    ``"train"``, ``"val"``, ``"test"`` (the partition as training defined it: the official one,
    or the run's seeded split when the dataset has none) or ``"all"``; only rows whose image file
    exists are read (a partial copy says how many once, ``.missing`` counts the others). Images
    are read at :func:`run_image_spec` by :class:`~celebalab.datasets.reader.RowReader`: the
    packed cache of the run's size and crop when one exists, else the files decoded in
    ``workers`` threads (default: the CPU count, at most 8; 0 decodes in the calling thread).
    Raises :class:`CelebalabError` for a bad split, batch size or worker count.
    """
    from celebalab.datasets.dataset import open_dataset
    from celebalab.datasets.reader import RowReader

    check_split(split)
    if batch_size < 1:
        raise CelebalabError(f"--batch-size must be >= 1, got {batch_size}")
    if workers is not None and workers < 0:
        raise CelebalabError(f"--workers must be >= 0, got {workers}")
    dataset = open_dataset(root)
    table = dataset.table
    if rows is None:
        chosen = np.arange(len(table)) if split == "all" else run_splits(run, table).rows[split]
    else:
        chosen = np.asarray(rows, dtype=np.int64).reshape(-1)
        if len(chosen) and (chosen.min() < 0 or chosen.max() >= len(table)):
            raise CelebalabError(f"{dataset.root}: rows must lie in 0…{len(table) - 1}")
    present = dataset.only_present(chosen)
    dataset.say_presence()
    reader = RowReader.open(dataset, run_image_spec(run), workers=workers)
    batches = SplitBatches(table=table, rows=present, batch_size=batch_size,
                           reader=lambda r: reader.batches(r, batch_size),
                           source=reader.source)  # fmt: skip
    batches.missing = len(chosen) - len(present)
    return batches


def run_image_spec(run: LoadedRun) -> ImageSpec:
    """The :class:`ImageSpec` of ``run``'s input: its size and crop, aligned by its
    :class:`~celebalab.alignment.FacePrep` when that is not the crop."""
    from celebalab.datasets.reader import ImageSpec

    return ImageSpec(run.image_size, run.crop, run.face_prep)


def run_splits(run: LoadedRun, table: pd.DataFrame) -> Splits:
    """The split of ``table`` that training of ``run`` used (official, or seeded by its seed)."""
    from celebalab.models.data import make_splits

    return make_splits(table, run.attribute_names, run.record.split_seed)


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
    norm = run.record.normalisation
    return normalise_uint8(tensor.to(run.device), norm.mean, norm.std, channels_last=True)


def predict_logits(run: LoadedRun, images_uint8: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Logits ``N×A`` (float32, on ``run.device``, no grad, model in eval mode) of uint8 images.

    Computed under ``torch.no_grad`` rather than inference mode, so the result is an ordinary
    tensor that later autograd code (a probe, a loss) may use.
    """
    x = model_input(run, images_uint8)
    run.model.eval()
    with torch.no_grad():
        return run.model(x).float()


def predict_proba(run: LoadedRun, images_uint8: torch.Tensor | np.ndarray) -> np.ndarray:
    """Sigmoid probabilities ``N×A`` (float32 numpy) of uint8 images: :func:`predict_logits`
    through the sigmoid."""
    return torch.sigmoid(predict_logits(run, images_uint8)).cpu().numpy()


def extract_features(run: LoadedRun, images_uint8: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Penultimate features ``N×F`` (float32, on ``run.device``, no grad) of uint8 images.

    The input of the final linear layer (:func:`celebalab.models.architectures.classifier_head`),
    i.e. the pooled features after the (eval-mode, identity) dropout, for every architecture
    in ``ARCHITECTURES``: ``logits == features @ head.weight.T + head.bias``. For an identity
    run (``task == "identity"``) the features are its embedding: the network's output,
    L2-normalised (see :mod:`celebalab.models._identity_module`). An imported attribute model's
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
        probs.append(predict_proba(run, batch.images))
    return np.concatenate(rows), np.concatenate(probs).astype(np.float32)
