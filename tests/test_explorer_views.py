"""The Explorer's view methods: clicks and selections map back to rows, caching, payload."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from celebalab.explorer._cache import ResultCache
from celebalab.explorer._figures import from_typed_array
from celebalab.explorer._neighbours import ExactCosineIndex
from celebalab.explorer._pipeline import SourcePipeline
from celebalab.explorer.sources import open_sources
from celebalab.explorer.views import DEFAULT_CLUSTERING, Explorer

MALE = [{"attribute": "Male", "value": 1}]


@pytest.fixture(scope="module")
def explorer(synthetic_embedding_set: Path, synth_root: Path) -> Explorer:
    return Explorer(sources=open_sources([synthetic_embedding_set, synth_root / "CelebA"]))


def _point(data: dict, position: int) -> dict:
    """A click on the map point at ``position``, as plotly.js reports it (customdata)."""
    identity, stem = from_typed_array(data["hover"])[position].tolist()
    return {"curveNumber": 3, "pointIndex": 17, "customdata": [identity, stem, position]}


def test_map_points_map_back_to_rows_under_filters_and_person(explorer: Explorer) -> None:
    meta = explorer.sources[0].meta
    data = explorer.map_data(0, DEFAULT_CLUSTERING, MALE, person=None)
    males = np.flatnonzero(meta["Male"].to_numpy() == 1)
    assert all("bdata" in data[k] for k in ("x", "y", "hover", "codes"))  # binary, not lists
    assert np.array_equal(from_typed_array(data["hover"])[:, 0], meta["identity"].to_numpy()[males])
    assert len(from_typed_array(data["codes"])) == males.size and data["person"] is None
    click = {"points": [_point(data, 5)]}
    assert explorer.point_row(0, click, MALE, None) == males[5]
    person = int(meta["identity"].iat[males[0]])
    ringed = np.intersect1d(explorer.person_rows(0, person), males)
    data = explorer.map_data(0, DEFAULT_CLUSTERING, MALE, person=person)
    assert np.array_equal(males[data["person"]], ringed)  # positions of the ringed faces
    click = {"points": [_point(data, data["person"][0])]}
    assert explorer.point_row(0, click, MALE, person) == ringed[0]  # works with a person chosen
    assert explorer.point_row(0, None, MALE, person) is None
    assert explorer.point_row(0, {"points": [{"pointIndex": 5}]}, MALE, person) is None


def test_selection_rows_and_profile(explorer: Explorer) -> None:
    males = np.flatnonzero(explorer.sources[0].meta["Male"].to_numpy() == 1)
    data = explorer.map_data(0, DEFAULT_CLUSTERING, MALE, person=None)
    selected = {"points": [_point(data, i) for i in (4, 0, 2, 2)]}
    rows = explorer.selected_rows(0, selected, MALE)
    assert np.array_equal(rows, males[[0, 2, 4]])
    fig = explorer.profile_figure(0, rows)
    male_bar = dict(zip(fig.data[1].y, fig.data[1].x, strict=True))["Male"]
    assert male_bar == pytest.approx(100.0)
    assert explorer.selected_rows(0, None, MALE).size == 0


def test_similar_faces_match_exact_cosine_search(explorer: Explorer) -> None:
    vectors = np.asarray(explorer.sources[0].vectors)
    rows, _ = explorer.similar(0, 7, k=5)
    _, reference = ExactCosineIndex(vectors=vectors).search(vectors[7:8], 6)
    assert 7 not in rows and np.array_equal(rows, reference[0][reference[0] != 7][:5])
    assert explorer.similar(1, 7)[0].size == 0  # attributes-only source
    males = np.flatnonzero(explorer.sources[0].meta["Male"].to_numpy() == 1)
    rows, _ = explorer.similar(0, 7, k=5, filters=MALE)  # the filters hold here too
    others = males[males != 7]
    _, reference = ExactCosineIndex(vectors=vectors[others]).search(vectors[7:8], 5)
    assert np.array_equal(rows, others[reference[0]])


def test_recolour_sends_only_colours(explorer: Explorer) -> None:
    changed = {**DEFAULT_CLUSTERING, "params": {**DEFAULT_CLUSTERING["params"], "k": 3}}
    colours = explorer.map_colours(0, changed, [])
    full = explorer.map_data(0, changed, [], None)
    assert colours == full["codes"] and set(from_typed_array(colours).tolist()) == {1, 2, 3}
    assert full["layout"]["title"]["text"] == explorer.map_title(0, changed, [])
    assert len(json.dumps(colours)) < len(json.dumps(full)) / 3


def test_maps_are_kept_per_view(explorer: Explorer) -> None:
    changed = {**DEFAULT_CLUSTERING, "params": {**DEFAULT_CLUSTERING["params"], "k": 3}}
    first = explorer.map_data(0, changed, [], None)
    assert explorer.map_data(0, changed, [], None) is first  # the same view: built once
    other = explorer.map_data(0, changed, MALE, None)
    assert other is not first and len(other["x"]["bdata"]) < len(first["x"]["bdata"])
    eps_only = {**changed, "params": {**changed["params"], "eps": 9.0}}  # K-means ignores eps
    assert explorer.map_data(0, eps_only, [], None) is first


def test_tree_clicks_give_branch_rows(explorer: Explorer) -> None:
    fig = explorer.tree_figure(0, "pca", "reduce_first", 4, MALE)
    nodes = fig.data[-1].customdata
    root = max(nodes)
    click = {"points": [{"customdata": root}]}
    males = np.flatnonzero(explorer.sources[0].meta["Male"].to_numpy() == 1)
    assert np.array_equal(explorer.tree_rows(0, "pca", "reduce_first", MALE, click), males)
    assert explorer.tree_rows(0, "pca", "reduce_first", MALE, None).size == 0


def test_metrics_box_and_attribute_only_source(explorer: Explorer) -> None:
    rows = dict(explorer.metrics(0, DEFAULT_CLUSTERING))
    assert rows["images"] == "120" and rows["dimension"] == "32"
    assert rows["identity 1-NN accuracy"].endswith("%")
    assert "silhouette (current clustering)" in rows
    assert dict(explorer.metrics(1, None)).keys() == {"images", "identities"}
    blank = explorer.map_data(1, DEFAULT_CLUSTERING, [], None)["figure"]
    assert "disabled" in blank["layout"]["annotations"][0]["text"]
    pies, page = explorer.pie_figures(1, ["Male", "Bald", "Smiling"], MALE, None, 0)
    assert pies.layout.title.text.startswith("Male = yes:") and page == "page 1 of 1"
    phi = explorer.phi_figure(1, ["Male", "Bald", "Smiling"], MALE, None)
    assert phi.data[0].z[0][0] == pytest.approx(1.0) or np.isnan(phi.data[0].z[0][0])


def test_pipeline_cache_is_reused_by_a_new_process(
    explorer: Explorer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = explorer.sources[0]
    first = SourcePipeline(source=source, cache=ResultCache(root=tmp_path))
    labels = first.labels(**DEFAULT_CLUSTERING)
    xy = first.map("pca")

    def fail(*args, **kwargs):
        raise AssertionError("recomputed although cached")

    monkeypatch.setattr("celebalab.explorer._clustering.cluster_labels", fail)
    monkeypatch.setattr("celebalab.explorer._projections.fit_pca", fail)
    again = SourcePipeline(source=source, cache=ResultCache(root=tmp_path))
    assert np.array_equal(again.labels(**DEFAULT_CLUSTERING), labels)
    assert np.array_equal(again.map("pca"), xy)
    cluster_first = {**DEFAULT_CLUSTERING, "order": "cluster_first"}
    with pytest.raises(AssertionError):  # another order is another result
        again.labels(**cluster_first)


@pytest.mark.slow
def test_umap_and_tsne_maps_keep_neighbourhoods(explorer: Explorer, tmp_path: Path) -> None:
    from sklearn.manifold import trustworthiness

    pipeline = SourcePipeline(source=explorer.sources[0], cache=ResultCache(root=tmp_path))
    vectors = np.asarray(explorer.sources[0].vectors)
    for reducer in ("umap", "tsne"):
        xy = pipeline.map(reducer)
        assert xy.shape == (len(vectors), 2) and xy.dtype == np.float32
        assert trustworthiness(vectors, xy, n_neighbors=5) > 0.8
        assert pipeline.labels(reducer, "reduce_first", "kmeans", {"k": 3}).shape == (120,)


def test_warm_up_preloads_k_means_only_after_the_first_view(
    explorer: Explorer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The K-means imports (1-3 s holding the GIL) wait for the page's first view to answer."""
    import threading

    from celebalab.explorer import _clustering as clustering

    preloaded = threading.Event()
    monkeypatch.setattr(clustering, "preload", preloaded.set)
    explorer.warm_up()  # the first view computed and cached: without the wait, preload is at once
    assert preloaded.is_set()
    preloaded.clear()
    warm = threading.Thread(target=explorer.warm_up, kwargs={"preload_after_first_view": True})
    warm.start()
    try:
        assert not preloaded.wait(timeout=1.0)  # it waits for the first view's answer
        explorer.first_view_answered()
        assert preloaded.wait(timeout=30)
    finally:
        explorer.first_view_answered()
        warm.join(timeout=60)
    assert not warm.is_alive()
