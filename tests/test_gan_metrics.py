"""GAN metrics against independent implementations on the same feature arrays.

FID and KID are compared with torchmetrics (fed the features through a pass-through feature
module), precision/recall with a scikit-learn k-NN re-implementation of Kynkäänniemi et al.,
nearest distances with SciPy.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from celebalab.generate._metrics import (
    frechet_distance,
    kernel_distance,
    nearest_distances,
    precision_recall,
)

DIM = 16


class _PassThrough(nn.Module):
    """torchmetrics' "feature extractor": the N×D×1×1 input already is the features."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1).double()


def _features(seed: int, n: int, shift: float = 0.0) -> np.ndarray:
    mix = np.random.default_rng(99).normal(size=(DIM, DIM)) / 4  # one distribution for all
    return np.random.default_rng(seed).normal(size=(n, DIM)) @ mix + shift


def _images(features: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(features)[:, :, None, None]


@pytest.mark.parametrize("shift", [0.0, 0.7])
def test_frechet_distance_matches_torchmetrics(shift: float) -> None:
    from torchmetrics.image.fid import FrechetInceptionDistance

    real, fake = _features(0, 300), _features(1, 250, shift)
    reference = FrechetInceptionDistance(feature=_PassThrough(), input_img_size=(DIM, 1, 1))
    reference.update(_images(real), real=True)
    reference.update(_images(fake), real=False)
    expected = float(reference.compute())
    assert frechet_distance(fake, real) == pytest.approx(expected, rel=1e-6, abs=1e-9)
    assert (shift > 0) == (expected > 2.0)  # bias of 250 samples in 16-d: ~0.4


def test_kernel_distance_matches_torchmetrics_on_whole_sets() -> None:
    from torchmetrics.image.kid import KernelInceptionDistance

    real, fake = _features(2, 120), _features(3, 120, 0.5)
    # Subsets as large as the sets: every subset is the whole set, so the two libraries' own
    # random subset choices cannot differ and the unbiased MMD² must agree exactly.
    reference = KernelInceptionDistance(feature=_PassThrough(), subsets=3, subset_size=120)
    reference.update(_images(real), real=True)
    reference.update(_images(fake), real=False)
    expected_mean, _ = reference.compute()
    mean, std = kernel_distance(fake, real, subsets=3, subset_size=120)
    assert mean == pytest.approx(float(expected_mean), rel=1e-6)
    assert std == pytest.approx(0.0, abs=1e-12)
    same, _ = kernel_distance(_features(4, 120), _features(5, 120), subsets=3, subset_size=120)
    assert abs(same) < mean / 5


def _sklearn_precision_recall(gen: np.ndarray, real: np.ndarray, k: int) -> tuple[float, float]:
    from scipy.spatial.distance import cdist
    from sklearn.neighbors import NearestNeighbors

    def radii(x: np.ndarray) -> np.ndarray:  # distance to the k-th neighbour other than itself
        return NearestNeighbors(n_neighbors=k + 1).fit(x).kneighbors(x)[0][:, -1]

    precision = float((cdist(gen, real) <= radii(real)[None, :]).any(axis=1).mean())
    recall = float((cdist(real, gen) <= radii(gen)[None, :]).any(axis=1).mean())
    return precision, recall


@pytest.mark.parametrize("shift", [0.0, 1.5])
def test_precision_recall_matches_sklearn_knn(shift: float) -> None:
    gen, real = _features(6, 150, shift), _features(7, 200)
    expected = _sklearn_precision_recall(gen, real, k=3)
    assert precision_recall(gen, real, neighbours=3) == pytest.approx(expected, abs=1e-6)
    if shift:
        assert max(expected) < 0.7
    else:
        assert min(expected) > 0.7


def test_nearest_distances_match_scipy() -> None:
    from scipy.spatial.distance import cdist

    query, reference = _features(8, 70), _features(9, 90)
    dist, index = nearest_distances(query, reference, chunk=16)
    full = cdist(query, reference)
    np.testing.assert_array_equal(index, full.argmin(axis=1))
    np.testing.assert_allclose(dist, full.min(axis=1), rtol=1e-5)
