"""Regional metrics: equal to Quantus on the same inputs, or to a per-image skimage/numpy loop."""

from __future__ import annotations

import numpy as np
import pytest
import quantus
from skimage.measure import label

from celebalab.explain.metrics import regional_metrics, top_count

B, H, W, Q = 12, 20, 24, 0.1


@pytest.fixture(scope="module")
def arrays() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    a = rng.normal(size=(B, H, W)).astype(np.float32)
    a[:4] += 3 * np.exp(-((np.arange(W) - 8) ** 2) / 20)[None, None, :]  # some localised maps
    m = np.zeros((B, H, W), dtype=bool)
    for i in range(B):
        y, x = rng.integers(0, H - 6), rng.integers(0, W - 8)
        m[i, y : y + rng.integers(2, 7), x : x + rng.integers(2, 9)] = True
    return a, m


@pytest.fixture(scope="module")
def ours(arrays: tuple[np.ndarray, np.ndarray]) -> dict[str, np.ndarray]:
    return regional_metrics(*arrays, top_fraction=Q, chunk=5)  # chunks: batching is invisible


def _quantus(metric, a: np.ndarray, m: np.ndarray) -> np.ndarray:
    # Quantus wants B×C×H×W, bool/uint8 masks; x only supplies the shape here.
    x = np.zeros((len(a), 1, H, W), np.float32)
    out = metric(
        model=None,
        x_batch=x,
        y_batch=np.zeros(len(a), int),
        a_batch=a[:, None],
        s_batch=m[:, None].astype(np.uint8),
    )
    return np.asarray(out, dtype=np.float64)


QUANTUS = {
    "regional_precision": (lambda: quantus.RelevanceMassAccuracy(normalise=False), True),
    "energy_pointing_game": (
        lambda: quantus.RelevanceMassAccuracy(normalise=False, abs=True),
        False,
    ),
    "pointing_game": (lambda: quantus.PointingGame(normalise=False), False),
    "relevance_rank_accuracy": (lambda: quantus.RelevanceRankAccuracy(normalise=False), False),
    "top_k_intersection": (
        lambda: quantus.TopKIntersection(k=top_count(H, W, Q), normalise=False),
        False,
    ),
    "auc": (lambda: quantus.AUC(normalise=False), False),
}


@pytest.mark.parametrize("name", sorted(QUANTUS))
def test_equals_quantus(name: str, arrays, ours) -> None:
    a, m = arrays
    make, clip = QUANTUS[name]
    ref = _quantus(make(), np.clip(a, 0, None) if clip else a, m)
    np.testing.assert_allclose(ours[name], ref, atol=1e-6, rtol=0)


def test_recall_and_coherence_equal_a_per_image_loop(arrays, ours) -> None:
    a, m = arrays
    k = top_count(H, W, Q)
    for i in range(B):
        top = np.zeros(H * W, bool)
        top[np.argsort(-a[i].ravel(), kind="stable")[:k]] = True
        top = top.reshape(H, W)
        assert ours["regional_recall"][i] == pytest.approx((top & m[i]).sum() / m[i].sum())
        lab, n = label(top, connectivity=2, return_num=True)
        assert ours["components"][i] == n
        largest = np.bincount(lab.ravel())[1:].max()
        assert ours["largest_component_share"][i] == pytest.approx(largest / k)
        assert ours["area"][i] == pytest.approx(m[i].mean())


def test_undefined_cases_are_nan_not_numbers() -> None:
    a = np.ones((2, 4, 4))
    m = np.zeros((2, 4, 4), bool)
    m[1, :2] = True
    a[1] = -1.0  # no positive mass
    out = regional_metrics(a, m)
    assert np.isnan(out["regional_precision"]).all()
    assert np.isnan(out["auc"][0]) and out["auc"][1] == pytest.approx(0.5)
    assert out["area"].tolist() == [0.0, 0.5]


def test_a_map_on_the_region_scores_full_marks() -> None:
    m = np.zeros((1, 10, 10), bool)
    m[0, 2:4, 2:7] = True
    out = regional_metrics(m.astype(float) + 0.0, m, top_fraction=0.1)
    assert out["regional_precision"][0] == 1.0
    assert out["regional_recall"][0] == 1.0
    assert out["components"][0] == 1 and out["largest_component_share"][0] == 1.0


@pytest.mark.parametrize("name", sorted(QUANTUS))
def test_ties_equal_quantus(name: str, arrays) -> None:
    # many equal values, zeros as in a Grad-CAM map: ties straddle the top-k and top-|region|
    # borders, where the order Quantus's argsort gives decides (and must be the same)
    a, m = arrays
    tied = np.clip(np.round(a, 0), 0, None).astype(np.float32)
    tied[0] = -tied[0]  # -0.0 and 0.0 are equal values
    tied[1, :5] = 7.0  # a tied maximum
    make, clip = QUANTUS[name]
    ours = regional_metrics(tied, m, top_fraction=Q)[name]
    ref = _quantus(make(), np.clip(tied, 0, None) if clip else tied, m)
    np.testing.assert_allclose(ours, ref, atol=1e-6, rtol=0)


def test_a_subset_of_metrics_equals_the_full_call(arrays, ours) -> None:
    a, m = arrays
    for names in (
        ("top_k_intersection",),
        ("regional_recall", "pointing_game", "components"),
        ("relevance_rank_accuracy", "largest_component_share"),
        ("pointing_game",),
        ("area", "regional_precision"),
    ):
        part = regional_metrics(a, m, top_fraction=Q, metrics=names)
        assert set(part) == set(names)
        for name in names:
            np.testing.assert_array_equal(part[name], ours[name])
    with pytest.raises(ValueError, match="unknown metrics"):
        regional_metrics(a, m, metrics=("precision",))


def test_a_map_with_nan_scores_nan() -> None:
    a = np.random.default_rng(0).normal(size=(2, 6, 6)).astype(np.float32)
    a[0, 2, 3] = np.nan
    m = np.zeros((2, 6, 6), bool)
    m[:, 1:3, 1:4] = True
    out = regional_metrics(a, m)
    for name, values in out.items():
        assert np.isnan(values[0]) == (name != "area"), name
        assert not np.isnan(values[1]), name
