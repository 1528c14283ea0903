"""Explorer callback logic without a browser: filters, titles, pies, phi, payload encoding."""

from __future__ import annotations

import base64

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import matthews_corrcoef

from celebalab.datasets.schema import ATTRIBUTE_NAMES
from celebalab.explorer import _figures as figures
from celebalab.explorer._cache import ResultCache, cache_key
from celebalab.explorer._filters import (
    add_filter,
    attribute_counts,
    attribute_shares,
    describe_subset,
    phi_matrix,
    pie_page,
    remove_filter,
    subset_mask,
)
from celebalab.explorer._mapviews import numbered_stems


@pytest.fixture()
def meta() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 500
    frame = pd.DataFrame(
        {
            "image_id": [f"{i + 1:06d}.jpg" for i in range(n)],
            "identity": rng.integers(0, 25, n),
            "partition": np.zeros(n, np.int8),
        }
    )
    attrs = pd.DataFrame(rng.integers(0, 2, (n, 40)).astype(np.int8), columns=list(ATTRIBUTE_NAMES))
    attrs.loc[:9, "Bald"] = -1  # missing labels are never counted
    return pd.concat([frame, attrs], axis=1)


def test_filters_add_replace_remove() -> None:
    filters = add_filter([], "Male", 1)
    filters = add_filter(filters, "Eyeglasses", 0)
    filters = add_filter(filters, "Male", 0)  # same attribute: replaced, not doubled
    assert filters == [{"attribute": "Eyeglasses", "value": 0}, {"attribute": "Male", "value": 0}]
    assert remove_filter(filters, "Eyeglasses") == [{"attribute": "Male", "value": 0}]
    assert remove_filter(filters, "Bald") == filters
    with pytest.raises(ValueError):
        add_filter([], "Not_An_Attribute", 1)
    with pytest.raises(ValueError):
        add_filter([], "Male", 2)


def test_subset_mask_matches_pandas_query(meta: pd.DataFrame) -> None:
    filters = [{"attribute": "Male", "value": 1}, {"attribute": "Smiling", "value": 0}]
    expected = meta.query("Male == 1 and Smiling == 0").index.to_numpy()
    assert np.array_equal(np.flatnonzero(subset_mask(meta, filters)), expected)
    person = int(meta["identity"].iat[0])
    expected = meta.query("Male == 1 and Smiling == 0 and identity == @person").index.to_numpy()
    assert np.array_equal(np.flatnonzero(subset_mask(meta, filters, person)), expected)


def test_titles_say_what_is_shown() -> None:
    assert describe_subset(202599, 202599, [], None) == "all 202,599 images"
    assert describe_subset(23, 202599, [], 4153) == "person 4153, 23 images"
    male = [{"attribute": "Male", "value": 1}]
    assert describe_subset(84434, 202599, male, None) == "Male = yes: 84,434 of 202,599 images"
    assert describe_subset(1, 202599, male, 7) == "person 7 with Male = yes: 1 image"
    assert "None" not in describe_subset(5, 10, [], None)


def test_attribute_counts_match_value_counts(meta: pd.DataFrame) -> None:
    mask = meta["Young"].to_numpy() == 1
    counts = attribute_counts(meta, mask, ["Bald", "Male"])
    for name in ("Bald", "Male"):
        reference = meta.loc[mask, name].value_counts()
        assert counts.at[name, 0] == reference.get(0, 0)
        assert counts.at[name, 1] == reference.get(1, 0)
    assert counts.loc["Bald"].sum() == (meta.loc[mask, "Bald"] >= 0).sum()


def test_phi_equals_matthews_correlation(meta: pd.DataFrame) -> None:
    mask = np.ones(len(meta), bool)
    names = ["Bald", "Male", "Goatee"]
    phi = phi_matrix(meta, mask, names)
    labelled = meta[(meta[names] >= 0).all(axis=1)]
    for a in names:
        for b in names:
            assert phi.at[a, b] == pytest.approx(matthews_corrcoef(labelled[a], labelled[b]))


def test_attribute_shares_ignore_missing(meta: pd.DataFrame) -> None:
    rows = np.arange(0, 300)
    shares = attribute_shares(meta, rows)
    part = meta.iloc[rows]
    assert shares["Bald"] == pytest.approx((part["Bald"] == 1).sum() / (part["Bald"] >= 0).sum())
    assert shares["Male"] == pytest.approx(part["Male"].mean())


def test_pie_pages_wrap() -> None:
    names = ["A", "B", "C", "D", "E"]
    assert pie_page(names, 0, 4) == (["A", "B", "C", "D"], 0, 2)
    assert pie_page(names, 1, 4) == (["E"], 1, 2)
    assert pie_page(names, -1, 4) == (["E"], 1, 2)  # previous from the first page wraps
    assert pie_page([], 3, 4) == ([], 0, 1)


def test_numbered_stems_only_for_uniform_numbered_ids() -> None:
    numbers, fmt = numbered_stems(["000001.jpg", "202599.jpg"])
    assert fmt == "06d.jpg" and numbers.tolist() == [1, 202599]
    assert numbered_stems(["0.jpg", "12.jpg"]) is None  # CelebAMask-HQ: widths differ
    assert numbered_stems(["000001.jpg", "000002.png"]) is None
    assert numbered_stems(["000001.jpg", "00000a.jpg"]) is None
    assert numbered_stems(["a.jpg"]) is None
    assert numbered_stems([]) is None


def test_typed_array_round_trips() -> None:
    values = np.arange(12, dtype=np.int32).reshape(6, 2)
    spec = figures.typed_array(values)
    assert spec["dtype"] == "i4" and spec["shape"] == "6, 2"
    decoded = np.frombuffer(base64.b64decode(spec["bdata"]), dtype=np.int32).reshape(6, 2)
    assert np.array_equal(decoded, values)


def test_colour_codes_and_colours_agree() -> None:
    labels = np.array([-1, 0, 1, 10, 11])
    codes = figures.colour_codes(labels)
    assert codes.tolist() == [0, 1, 2, 1, 2]
    palette = (figures.NOISE, *figures.PALETTE)
    assert [palette[c] for c in codes] == [figures.cluster_colour(int(x)) for x in labels]


def test_pie_slices_carry_their_filter(meta: pd.DataFrame) -> None:
    counts = attribute_counts(meta, np.ones(len(meta), bool), ["Male", "Bald"])
    fig = figures.pie_figure(counts, "all 500 images", columns=2)
    assert [list(map(list, t.customdata)) for t in fig.data] == [
        [["Male", 0], ["Male", 1]],
        [["Bald", 0], ["Bald", 1]],
    ]
    assert fig.layout.title.text == "all 500 images"


def test_result_cache_computes_once(tmp_path) -> None:
    calls = []

    def compute() -> np.ndarray:
        calls.append(1)
        return np.arange(5.0)

    key = cache_key("fp", "step", {"k": 3})
    assert key != cache_key("fp", "step", {"k": 4}) != cache_key("other", "step", {"k": 3})
    first = ResultCache(root=tmp_path).get_or_compute(key, compute)
    again = ResultCache(root=tmp_path).get_or_compute(key, compute)  # a new process: from disk
    assert calls == [1] and np.array_equal(first, again)
    assert not list(tmp_path.glob(".*.tmp"))


def test_result_cache_computes_once_for_threads_asking_at_once(tmp_path) -> None:
    import threading
    import time

    calls = []

    def compute() -> np.ndarray:
        calls.append(1)
        time.sleep(0.2)  # long enough for the other threads to ask meanwhile
        return np.arange(3.0)

    cache, results = ResultCache(root=tmp_path), []
    threads = [
        threading.Thread(target=lambda: results.append(cache.get_or_compute("k", compute)))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == [1] and len(results) == 3
    assert all(np.array_equal(r, np.arange(3.0)) for r in results)


def test_result_cache_failed_computation_leaves_no_lock_behind(tmp_path) -> None:
    cache = ResultCache(root=tmp_path)

    def fail() -> np.ndarray:
        raise ValueError("bad parameter")

    with pytest.raises(ValueError, match="bad parameter"):
        cache.get_or_compute("k", fail)
    assert cache._computing == {}  # released in a finally
    assert np.array_equal(cache.get_or_compute("k", lambda: np.arange(2.0)), [0.0, 1.0])
    assert cache._computing == {}
