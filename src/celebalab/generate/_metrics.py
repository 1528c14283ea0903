"""Sample-quality metrics on feature arrays: Fréchet distance, KID, precision/recall, k-NN.

The formulas are torch-fidelity's own feature-level functions (``fid_statistics_to_metric``,
``kid_features_to_metric``, ``prc_features_to_metric``), so a feature-space figure here is
computed exactly as torch-fidelity computes Inception FID/KID/PR, only in another feature space.
Tests check them against torchmetrics and scikit-learn on the same features.
"""

from __future__ import annotations

import numpy as np
import torch

#: KID's polynomial-kernel MMD over random subsets (torch-fidelity's defaults: 100 × 1000).
KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000
#: k of the k-NN manifolds of precision/recall (Kynkäänniemi et al. 2019 use 3).
PR_NEIGHBOURS = 3


def _tensor(features: np.ndarray | torch.Tensor) -> torch.Tensor:
    array = torch.as_tensor(np.asarray(features, dtype=np.float64))
    if array.ndim != 2:
        raise ValueError(f"features must be N×D, got shape {tuple(array.shape)}")
    return array


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to ``N×D`` and ``M×D`` features (float64)."""
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric

    stats_a = fid_features_to_statistics(_tensor(features_a))
    stats_b = fid_features_to_statistics(_tensor(features_b))
    metric = fid_statistics_to_metric(stats_a, stats_b, verbose=False)
    return float(metric["frechet_inception_distance"])


def kernel_distance(
    features_a: np.ndarray, features_b: np.ndarray, *, subsets: int = KID_SUBSETS,
    subset_size: int = KID_SUBSET_SIZE, seed: int = 0,
) -> tuple[float, float]:  # fmt: skip
    """KID: mean and std of the unbiased cubic-kernel MMD² over ``subsets`` random subsets.

    ``subset_size`` is capped at the smaller sample size.
    """
    from torch_fidelity.metric_kid import kid_features_to_metric

    a, b = _tensor(features_a), _tensor(features_b)
    size = min(subset_size, len(a), len(b))
    out = kid_features_to_metric(
        a, b, kid_subsets=subsets, kid_subset_size=size, rng_seed=seed, verbose=False
    )
    return float(out["kernel_inception_distance_mean"]), float(out["kernel_inception_distance_std"])


def precision_recall(
    generated: np.ndarray, real: np.ndarray, *, neighbours: int = PR_NEIGHBOURS
) -> tuple[float, float]:
    """Improved precision and recall (k-NN manifolds): shares of samples inside the other set's.

    Precision: generated samples within the k-th-neighbour radius of some real sample; recall:
    real samples within that of some generated sample.
    """
    from torch_fidelity.metric_prc import prc_features_to_metric

    out = prc_features_to_metric(
        _tensor(generated), _tensor(real), prc_neighborhood=neighbours,
        verbose=False,
    )  # fmt: skip
    return float(out["precision"]), float(out["recall"])


def nearest_distances(
    query: np.ndarray, reference: np.ndarray, chunk: int = 1024
) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean distance of each query row to its nearest reference row, and that row."""
    ref = _tensor(reference).float()
    dists, index = [], []
    for part in _tensor(query).float().split(chunk):
        d = torch.cdist(part, ref)
        best = d.min(dim=1)
        dists.append(best.values)
        index.append(best.indices)
    return torch.cat(dists).numpy(), torch.cat(index).numpy()


def distribution_metrics(
    generated: np.ndarray, real: np.ndarray, seed: int = 0
) -> dict[str, float]:
    """FID, KID (mean, std), precision and recall of ``generated`` against ``real`` features."""
    # Subsets of at most half the samples, so that they differ and the std means something.
    size = min(KID_SUBSET_SIZE, len(generated) // 2, len(real) // 2)
    kid, kid_std = kernel_distance(generated, real, subset_size=max(size, 2), seed=seed)
    precision, recall = precision_recall(generated, real)
    return {
        "FID": frechet_distance(generated, real),
        "KID": kid,
        "KID std": kid_std,
        "precision": precision,
        "recall": recall,
    }
