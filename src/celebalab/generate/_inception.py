"""Inception FID/KID through torch-fidelity, only with a local weights file (never downloaded).

torch-fidelity's ``inception-v3-compat`` extractor is the TF-FID Inception the published
figures use; its weights (``pt_inception-2015-12-05-6726825d.pth``, from torch-fidelity's
release page) must be on disk and are passed as ``feature_extractor_weights_path``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from celebalab.errors import CelebalabError

#: Name of the weights file torch-fidelity would fetch (for the error message).
WEIGHTS_NAME = "pt_inception-2015-12-05-6726825d.pth"


class InceptionWeightsError(CelebalabError):
    """The Inception weights file is missing or is not torch-fidelity's Inception."""


class _Uint8Images(Dataset):
    """uint8 ``N×S×S×3`` images as the uint8 ``3×S×S`` tensors torch-fidelity reads."""

    def __init__(self, images: np.ndarray) -> None:
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(self.images[index])).permute(2, 0, 1)


def check_weights(path: str | Path) -> Path:
    """The weights path, or a clear error when it is not a file."""
    path = Path(path)
    if not path.is_file():
        raise InceptionWeightsError(
            f"{path}: Inception weights file not found; nothing is downloaded. Get "
            f"{WEIGHTS_NAME} (torch-fidelity's release) yourself and pass its path, or leave "
            "--inception out for the classifier-feature FID/KID"
        )
    return path


def inception_metrics(
    generated: np.ndarray, real: np.ndarray, weights: str | Path, seed: int = 0
) -> dict[str, float]:
    """Inception FID, KID (mean, std) of uint8 ``generated`` vs ``real`` images."""
    import torch_fidelity

    path = check_weights(weights)
    try:
        out = torch_fidelity.calculate_metrics(
            input1=_Uint8Images(generated), input2=_Uint8Images(real), fid=True, kid=True,
            feature_extractor="inception-v3-compat", feature_extractor_weights_path=str(path),
            kid_subset_size=min(1000, len(generated), len(real)), rng_seed=seed,
            cuda=torch.cuda.is_available(), cache=False, verbose=False,
        )  # fmt: skip
    except Exception as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InceptionWeightsError(
            f"{path}: torch-fidelity could not use these Inception weights ({reason})"
        ) from None
    return {
        "FID": float(out["frechet_inception_distance"]),
        "KID": float(out["kernel_inception_distance_mean"]),
        "KID std": float(out["kernel_inception_distance_std"]),
    }
