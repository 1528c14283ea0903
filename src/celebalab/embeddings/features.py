"""What a run contributes to an embedding set: one vector (and attribute probabilities) per image.

Why one function for every run: an identity model's vector is its L2-normalised embedding
(:func:`celebalab.models.inference.extract_features` on an identity run), an attribute
classifier's is its penultimate feature vector, L2-normalised by default so that the inner
product is the cosine similarity deep features are compared with; the classifier's sigmoid
outputs come from the same forward pass (a hook on the final linear layer), so extraction reads
and runs each image once.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from celebalab.datasets.schema import ATTRIBUTE_NAMES
from celebalab.models.run import LoadedRun


def gives_probabilities(run: LoadedRun) -> bool:
    """Whether the run predicts all 40 attributes (so the set gets ``prob_<attribute>`` columns)."""
    return run.task != "identity" and list(run.attribute_names) == list(ATTRIBUTE_NAMES)


@torch.inference_mode()
def run_vectors(
    run: LoadedRun, images_uint8: torch.Tensor | np.ndarray, normalise: bool = True
) -> tuple[np.ndarray, np.ndarray | None]:
    """``(vectors N×D float32, probabilities N×40 float32 or None)`` of uint8 images.

    Images are ``N×3×S×S`` (or ``N×S×S×3``) at the run's size and crop. Identity runs give
    their unit-norm embedding; other runs their penultimate features (unit-norm when
    ``normalise``) and, when they predict all 40 attributes, the sigmoid probabilities.
    """
    from celebalab.models.architectures import classifier_head
    from celebalab.models.inference import extract_features, model_input

    if run.task == "identity":
        return extract_features(run, images_uint8).cpu().numpy().astype(np.float32), None
    if run.imported:  # no inner layer to hook: the 40 logits are both vector and probabilities
        logits = extract_features(run, images_uint8)
        vectors = F.normalize(logits, dim=1) if normalise else logits
        return vectors.cpu().numpy().astype(np.float32), torch.sigmoid(logits).cpu().numpy()
    captured: list[torch.Tensor] = []
    hook = classifier_head(run.model).register_forward_pre_hook(
        lambda _module, args: captured.append(args[0])
    )
    run.model.eval()
    try:
        logits = run.model(model_input(run, images_uint8)).float()
    finally:
        hook.remove()
    features = captured[0].float()
    if normalise:
        features = F.normalize(features, dim=1)
    probs = torch.sigmoid(logits).cpu().numpy() if gives_probabilities(run) else None
    return features.cpu().numpy().astype(np.float32), probs


def file_vectors(
    run: LoadedRun,
    paths: Sequence[str | Path],
    normalise: bool = True,
    batch_size: int = 64,
    notes: list[tuple[str, str]] | None = None,
) -> tuple[list[Path], np.ndarray, np.ndarray | None, list[tuple[str, str]]]:
    """Vectors of image files, prepared as the run's inputs are
    (:func:`celebalab.models.inference.prepared_batches`).

    Returns ``(readable paths, vectors, probabilities or None, [(path, reason)] unreadable or
    without a face)``; ``notes`` receives ``(path, note)`` ("3 faces found; …").
    """
    from celebalab.models.inference import prepared_batches

    files = [Path(p) for p in paths]
    kept: list[Path] = []
    vectors: list[np.ndarray] = []
    probs: list[np.ndarray] = []
    failed: list[tuple[str, str]] = []
    for positions, images, bad in prepared_batches(run, files, batch_size, notes=notes):
        failed.extend((str(files[i]), reason) for i, reason in bad)
        if len(positions):
            kept.extend(files[i] for i in positions)
            vec, prob = run_vectors(run, torch.from_numpy(images), normalise)
            vectors.append(vec)
            if prob is not None:
                probs.append(prob)
    stacked = np.concatenate(vectors) if vectors else np.zeros((0, 0), np.float32)
    return kept, stacked, (np.concatenate(probs) if probs else None), failed
