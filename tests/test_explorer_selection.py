"""The explorer's selection, cluster descriptions, greyed context and density map, without a
browser: descriptions against a direct pandas computation, exports read back, table pages
against pandas' sort, context codes and clicks, density images and nearest points."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from celebalab.datasets.schema import ATTRIBUTE_NAMES
from celebalab.explorer import _density as density
from celebalab.explorer import _figures as figures
from celebalab.explorer._describe import MIN_LIFT, MIN_RATE, TOP, describe_clusters
from celebalab.explorer._figures import from_typed_array
from celebalab.explorer._selection import COLUMNS, export_bytes
from celebalab.explorer.sources import open_sources
from celebalab.explorer.views import DEFAULT_CLUSTERING, Explorer

MALE = [{"attribute": "Male", "value": 1}]


@pytest.fixture(scope="module")
def explorer(synthetic_embedding_set: Path, synth_root: Path) -> Explorer:
    return Explorer(sources=open_sources([synthetic_embedding_set, synth_root / "CelebA"]))


def _expected_description(meta: pd.DataFrame, members: pd.Series) -> tuple:
    """(top lifts as (attribute, lift, rate), purity, people) computed directly with pandas."""
    attrs = meta[list(ATTRIBUTE_NAMES)].where(meta[list(ATTRIBUTE_NAMES)] >= 0)
    base = attrs.mean()
    rate = attrs[members].mean()
    lift = rate / base
    usable = lift[(rate >= MIN_RATE) & (lift >= MIN_LIFT)]
    top = usable.sort_values(ascending=False, kind="stable").head(TOP)
    ids = meta.loc[members, "identity"]
    ids = ids[ids >= 0]
    counts = ids.value_counts()
    return (
        [(a, pytest.approx(lift[a]), pytest.approx(rate[a])) for a in top.index],
        pytest.approx(counts.max() / len(ids)),
        ids.nunique(),
    )


def test_cluster_descriptions_match_pandas(explorer: Explorer) -> None:
    meta = explorer.sources[0].meta
    labels = np.asarray(explorer.pipelines[0].labels(**DEFAULT_CLUSTERING))
    described = describe_clusters(meta, labels)
    assert sorted(described) == sorted(set(labels.tolist()))
    for label, got in described.items():
        members = pd.Series(labels == label, index=meta.index)
        lifts, purity, people = _expected_description(meta, members)
        assert got.size == int(members.sum())
        assert [(x.attribute, x.lift, x.rate) for x in got.lifts] == lifts
        assert got.purity == purity and got.people == people
        assert explorer.describe(0, np.flatnonzero(members)) == got  # the same for any rows
    text = next(d for d in described.values() if d.lifts).attributes_text()
    assert "×" in text and "%" in text


def test_descriptions_say_so_without_identities(explorer: Explorer) -> None:
    meta = explorer.sources[0].meta.assign(identity=-1)
    described = describe_clusters(meta, np.zeros(len(meta), dtype=np.int32))
    assert described[0].purity is None and described[0].identity_text() == ""
    assert described[0].attributes_text() == "no attribute stands out"  # the whole set: lift 1


def test_clusters_sample_their_own_faces(explorer: Explorer) -> None:
    labels = np.asarray(explorer.pipelines[0].labels(**DEFAULT_CLUSTERING))
    described, samples = explorer.clusters(0, DEFAULT_CLUSTERING)
    for label, rows in samples.items():
        assert len(rows) == min(8, described[label].size) and (labels[rows] == label).all()
    assert explorer.clusters(0, DEFAULT_CLUSTERING)[1] is samples  # computed once


def test_selection_frame_and_exports_read_back(explorer: Explorer) -> None:
    meta = explorer.sources[0].meta
    labels = np.asarray(explorer.pipelines[0].labels(**DEFAULT_CLUSTERING))
    cluster = int(labels[0])
    frame = explorer.selection_frame(
        0, clustering=DEFAULT_CLUSTERING, filters=MALE, cluster=cluster
    )
    expected = np.flatnonzero((meta["Male"].to_numpy() == 1) & (labels == cluster))
    assert list(frame.columns) == list(COLUMNS) and np.array_equal(frame.index, expected)
    assert (frame["cluster"] == cluster).all() and (frame["Male"] == 1).all()
    xy = np.asarray(explorer.pipelines[0].map("pca"))
    assert np.allclose(frame[["x", "y"]].to_numpy(), xy[expected])
    assert frame["image_id"].tolist() == meta["image_id"].to_numpy()[expected].tolist()
    csv = pd.read_csv(io.BytesIO(export_bytes(frame, "csv")))
    parquet = pd.read_parquet(io.BytesIO(export_bytes(frame, "parquet")))
    for back in (csv, parquet):
        assert list(back.columns) == list(COLUMNS) and len(back) == len(expected)
        assert back["image_id"].tolist() == frame["image_id"].tolist()
        assert back["Eyeglasses"].tolist() == frame["Eyeglasses"].tolist()
    person = int(meta["identity"].iat[0])
    of_person = explorer.selection_frame(0, person=person)
    assert (of_person["identity"] == person).all()
    assert len(of_person) == int((meta["identity"] == person).sum())
    attributes_only = explorer.selection_frame(1, np.array([3, 1]))
    assert attributes_only.index.tolist() == [3, 1] and attributes_only["x"].isna().all()
    with pytest.raises(ValueError, match="csv, parquet"):
        export_bytes(frame, "xlsx")


def test_table_pages_sort_like_pandas(explorer: Explorer) -> None:
    rows = explorer.selection_rows(0, DEFAULT_CLUSTERING, MALE)
    frame = explorer.selection_frame(0, rows)
    sort_by = [
        {"column_id": "cluster", "direction": "desc"},
        {"column_id": "image_id", "direction": "asc"},
    ]
    expected = frame.sort_values(["cluster", "image_id"], ascending=[False, True], kind="stable")
    records, pages = explorer.table_page(0, rows, DEFAULT_CLUSTERING, 1, 7, sort_by)
    assert pages == -(-len(rows) // 7)
    assert [r["image_id"] for r in records] == expected["image_id"].iloc[7:14].tolist()
    by_x, _ = explorer.table_page(
        0, rows, DEFAULT_CLUSTERING, 0, 5, [{"column_id": "x", "direction": "asc"}]
    )
    assert [r["x"] for r in by_x] == sorted(r["x"] for r in by_x)
    assert by_x[0]["x"] == pytest.approx(frame["x"].min(), abs=1e-4)
    last, _ = explorer.table_page(0, rows, DEFAULT_CLUSTERING, 99, 7, None)  # past the end
    assert [r["image_id"] for r in last] == frame["image_id"].iloc[(pages - 1) * 7 :].tolist()


def test_context_keeps_every_point_and_greys_the_rest(explorer: Explorer) -> None:
    meta = explorer.sources[0].meta
    males = meta["Male"].to_numpy() == 1
    data = explorer.map_data(0, DEFAULT_CLUSTERING, MALE, None, context=True)
    codes = from_typed_array(data["codes"])
    assert len(codes) == len(meta) and data["rows"] is None  # every row, in order
    assert (codes[~males] == figures.CONTEXT_CODE).all()
    assert (codes[males] != figures.CONTEXT_CODE).all()
    assert data["palette"][figures.CONTEXT_CODE] == figures.CONTEXT
    female = int(np.flatnonzero(~males)[0])
    click = {"points": [{"customdata": [0, 0, female]}]}
    assert explorer.point_row(0, click, MALE, None, context=True) == female  # greyed: clickable
    lasso = {"points": [{"customdata": [0, 0, i]} for i in range(len(meta))]}
    assert np.array_equal(  # a lasso keeps only the active points
        explorer.selected_rows(0, lasso, MALE, context=True), np.flatnonzero(males)
    )
    assert explorer.map_colours(0, DEFAULT_CLUSTERING, MALE, context=True) == data["codes"]
    labels = np.asarray(explorer.pipelines[0].labels(**DEFAULT_CLUSTERING))
    hidden = explorer.map_data(0, DEFAULT_CLUSTERING, [], None, cluster=int(labels[0]))
    shown = np.flatnonzero(labels == labels[0])
    assert np.array_equal(from_typed_array(hidden["rows"]), shown)  # no context: the cluster only
    assert "cluster" in hidden["layout"]["title"]["text"]


def test_density_map_above_the_point_budget(
    synthetic_embedding_set: Path, synth_root: Path
) -> None:
    small = Explorer(sources=open_sources([synthetic_embedding_set]), point_budget=50)
    data = small.map_data(0, DEFAULT_CLUSTERING, [], None)
    assert "x" not in data and data["n"] == 120 and small.is_density_map(0, [])
    header, _, png = data["density"]["source"].partition(",")
    image = Image.open(io.BytesIO(base64.b64decode(png)))
    assert header == "data:image/png;base64" and image.size == (density.WIDTH, density.HEIGHT)
    assert np.asarray(image)[..., 3].any()  # points drawn on a transparent background
    assert data["layout"]["dragmode"] == "zoom"
    xy = np.asarray(small.pipelines[0].map("pca"))
    x, y = xy[17]
    click = {"x": float(x) + 1e-4, "y": float(y), "radius": 0.01}
    assert small.nearest_row(0, DEFAULT_CLUSTERING, [], click) == 17
    assert small.nearest_row(0, DEFAULT_CLUSTERING, [], {**click, "x": 99.0}) is None
    males = np.flatnonzero(small.sources[0].meta["Male"].to_numpy() == 1)
    x, y = xy[males[0]]  # a filtered map resolves among its own points
    found = small.nearest_row(0, DEFAULT_CLUSTERING, MALE, {"x": x, "y": y, "radius": 1.0})
    assert found == males[0]
    zoomed = small.density_view(0, DEFAULT_CLUSTERING, [], (x - 0.1, x + 0.1), (y - 0.1, y + 0.1))
    assert zoomed.startswith("data:image/png;base64,") and zoomed != data["density"]["source"]


def test_first_preview_once_rendered(synthetic_embedding_set: Path) -> None:
    fresh = Explorer(sources=open_sources([synthetic_embedding_set]))
    fresh.render_preview()
    preview = fresh.first_preview()
    assert preview is not None and preview.startswith("data:image/png;base64,")
    again = Explorer(sources=open_sources([synthetic_embedding_set]))
    assert again.first_preview() == preview  # read from the disk cache, not rendered again


def test_nearest_is_the_closest_point() -> None:
    rng = np.random.default_rng(0)
    xy = rng.normal(size=(5000, 2)).astype(np.float32)
    for x, y in rng.normal(size=(20, 2)):
        found = density.nearest(xy, x, y, radius=10.0)
        assert found == int(np.argmin(np.hypot(xy[:, 0] - x, xy[:, 1] - y)))
    assert density.nearest(xy[:0], 0.0, 0.0, 1.0) is None


def test_package_exports_serving() -> None:
    from celebalab import explorer
    from celebalab.explorer import serving

    assert explorer.serve is serving.serve and explorer.bind is serving.bind
