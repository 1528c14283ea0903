"""Retrieval: exact search equals scikit-learn's brute force, approximate search reaches its
recall target, indexes persist and rebuild, filters and queries by id, file and attributes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

from celebalab.embeddings import load_embeddings
from celebalab.options import ConfigError
from celebalab.retrieval import EmbeddingIndex, build_index, parse_where, retrieve
from celebalab.retrieval import index as index_module
from celebalab.retrieval.index import FEW_QUERIES, RetrievalError
from celebalab.retrieval.query import QueryError
from cli_errors import refused_in_one_line
from embedding_runs import extracted_set


def clustered(n_clusters: int = 60, per: int = 25, dim: int = 32, seed: int = 0) -> np.ndarray:
    """Unit vectors around ``n_clusters`` centres, like face embeddings around identities."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_clusters, dim))
    x = np.repeat(centres, per, axis=0) + 0.35 * rng.normal(size=(n_clusters * per, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize("metric", ["ip", "l2"])
@pytest.mark.parametrize("n_queries", [1, FEW_QUERIES + 5, 300])
def test_exact_equals_sklearn(metric: str, n_queries: int) -> None:
    x = clustered()
    rng = np.random.default_rng(1)
    q = x[rng.choice(len(x), n_queries)] + 0.05 * rng.normal(size=(n_queries, x.shape[1]))
    q = q.astype(np.float32)
    distances, indices = EmbeddingIndex(kind="exact", metric=metric).fit(x).search(q, 7)
    nn = NearestNeighbors(n_neighbors=7, algorithm="brute",
                          metric="euclidean" if metric == "l2" else "cosine").fit(x)  # fmt: skip
    ref_d, ref_i = nn.kneighbors(q)
    np.testing.assert_array_equal(indices, ref_i)
    if metric == "l2":
        np.testing.assert_allclose(distances, ref_d, atol=2e-4)
    else:  # cosine distance of unit gallery vectors to the (unnormalised) query: 1 - <q, x>
        np.testing.assert_allclose(distances, 1 - np.take_along_axis(q @ x.T, ref_i, 1), atol=1e-5)


@pytest.mark.parametrize("kind", ["pq", "ivf", "hnsw"])
def test_approximate_reaches_recall_target(kind: str) -> None:
    x = clustered(n_clusters=100, per=30)
    index = EmbeddingIndex(kind=kind, target_recall=0.95).fit(x)
    assert index.recall_at_10_ >= 0.95
    exact = EmbeddingIndex(kind="exact").fit(x)
    q = x[::7]
    _, found = index.search(q, 10)
    _, truth = exact.search(q, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth, strict=True)])
    assert recall >= 0.9  # held to 0.95 on the tuning sample; other queries stay close


@pytest.mark.parametrize("metric", ["ip", "l2"])
def test_pq_reranks_to_exact_distances(metric: str) -> None:
    """PQ codes only pick candidates: the distances returned are the exact ones of those rows."""
    x = clustered(n_clusters=100, per=30)
    index = EmbeddingIndex(kind="pq", metric=metric).fit(x)
    exact = EmbeddingIndex(kind="exact", metric=metric).fit(x)
    q = x[3::11] + np.float32(0.01)
    distances, found = index.search(q, 10)
    _, truth = exact.search(q, 10)
    assert np.all(np.diff(distances, axis=1) >= 0)
    gathered = x[found]
    if metric == "ip":
        expected = 1 - np.einsum("qkd,qd->qk", gathered, q)
    else:
        expected = np.linalg.norm(gathered - q[:, None], axis=2)
    np.testing.assert_allclose(distances, expected, atol=2e-5)
    assert np.mean([len(set(a) & set(b)) for a, b in zip(found, truth, strict=True)]) >= 9


def test_auto_is_exact_for_small_sets_pq_above(monkeypatch: pytest.MonkeyPatch) -> None:
    x = clustered()
    assert EmbeddingIndex().fit(x).kind_ == "exact"
    monkeypatch.setattr(index_module, "AUTO_EXACT_MAX", len(x) - 1)
    index = EmbeddingIndex(seed=3).fit(x)
    assert index.kind_ == "pq" and index.recall_at_10_ >= 0.95
    again = EmbeddingIndex(seed=3).fit(x)  # fixed seeds: the same codes and setting
    assert again.search_param_ == index.search_param_
    np.testing.assert_array_equal(index.search(x[:20], 5)[1], again.search(x[:20], 5)[1])


def test_bad_parameters_and_queries() -> None:
    with pytest.raises(ConfigError, match="--index must be one of auto, exact, pq"):
        EmbeddingIndex(kind="annoy")
    with pytest.raises(ConfigError, match="--metric must be one of ip, l2, not 'cos'"):
        EmbeddingIndex(metric="cos")
    with pytest.raises(ConfigError, match="--hnsw-m must be >= 4, got 2"):
        EmbeddingIndex(hnsw_m=2)
    index = EmbeddingIndex().fit(clustered())
    with pytest.raises(RetrievalError, match="dimension 5"):
        index.search(np.zeros((1, 5), np.float32), 3)
    with pytest.raises(RetrievalError, match="not fitted"):
        EmbeddingIndex().search(np.zeros((1, 5), np.float32), 3)
    with pytest.raises(RetrievalError, match="at least 16 vectors"):
        EmbeddingIndex(kind="pq").fit(clustered()[:10])


@pytest.fixture(scope="module")
def emb_dir(synth_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return extracted_set(tmp_path_factory.mktemp("retrieval"), synth_root / "CelebA")


@pytest.mark.parametrize("kind", ["pq", "ivf"])
def test_index_persists_and_rebuilds(emb_dir: Path, tmp_path: Path, kind: str) -> None:
    import shutil

    emb = load_embeddings(emb_dir)
    first = build_index(emb, kind=kind)
    files = sorted((emb_dir / "index").glob(f"*-{kind}-*.faiss"))
    assert len(files) == 1 and emb.fingerprint[:16] in files[0].name
    again = build_index(emb, kind=kind)  # loaded, not rebuilt
    assert again.search_param_ == first.search_param_
    queries = np.asarray(emb.vectors[:4])
    for got, want in zip(again.search(queries, 5), first.search(queries, 5), strict=True):
        np.testing.assert_array_equal(got, want)
    stamp = files[0].stat().st_mtime_ns
    build_index(emb, kind=kind)
    assert files[0].stat().st_mtime_ns == stamp
    # a changed set (other vectors, same folder) gets a new index, the stale one goes
    copy = tmp_path / "emb"
    shutil.copytree(emb_dir, copy)
    changed = load_embeddings(copy)
    from celebalab.embeddings.store import write_embedding_set

    write_embedding_set(copy, [np.asarray(changed.vectors)[::-1].copy()], changed.meta,
                        source=changed.manifest["source"])  # fmt: skip
    changed = load_embeddings(copy)
    assert changed.fingerprint != emb.fingerprint
    build_index(changed, kind=kind)
    names = [p.name for p in (copy / "index").glob(f"*-{kind}-*.faiss")]
    assert len(names) == 1 and changed.fingerprint[:16] in names[0]


def test_query_by_id_excludes_itself_and_matches_sklearn(emb_dir: Path) -> None:
    emb = load_embeddings(emb_dir)
    query = emb.image_ids[5]
    result = retrieve(emb, [query], k=5)
    found = [n["image_id"] for n in result.neighbours[0]]
    assert query not in found and len(found) == 5
    nn = NearestNeighbors(n_neighbors=6, algorithm="brute", metric="cosine").fit(emb.vectors)
    _, ref = nn.kneighbors(np.asarray(emb.vectors[5:6]))
    assert found == [emb.image_ids[i] for i in ref[0] if i != 5][:5]
    same = [n["same_identity"] for n in result.neighbours[0]]
    ids = emb.meta["identity"].to_numpy()
    assert same == [bool(ids[emb.row_of(i)] == ids[5]) for i in found]


def test_query_by_file_uses_the_sets_model(emb_dir: Path) -> None:
    emb = load_embeddings(emb_dir)
    image = emb.image_dir / emb.image_ids[7]
    result = retrieve(emb, [str(image)], k=3)
    best = result.neighbours[0][0]
    assert best["image_id"] == emb.image_ids[7] and best["distance"] < 1e-5


def test_by_attributes_is_euclidean_on_probabilities(emb_dir: Path) -> None:
    emb = load_embeddings(emb_dir)
    probs = emb.probabilities()
    result = retrieve(emb, [emb.image_ids[0]], k=4, by="attributes")
    d = np.linalg.norm(probs - probs[0], axis=1)
    d[0] = np.inf
    order = np.argsort(d, kind="stable")[:4]
    assert [n["image_id"] for n in result.neighbours[0]] == [emb.image_ids[i] for i in order]
    np.testing.assert_allclose([n["distance"] for n in result.neighbours[0]], d[order], atol=1e-5)


def test_where_filters_labels(emb_dir: Path) -> None:
    emb = load_embeddings(emb_dir)
    result = retrieve(emb, [emb.image_ids[0]], k=50, where="Male=1,partition=test")
    rows = [n["row"] for n in result.neighbours[0]]
    meta = emb.meta.iloc[rows]
    assert len(rows) > 0 and (meta["Male"] == 1).all() and (meta["partition"] == 2).all()
    expected = ((emb.meta["Male"] == 1) & (emb.meta["partition"] == 2)).sum()
    assert len(rows) == expected - int(rows.count(0))
    assert parse_where("Smiling=1,Eyeglasses=0") == {"Smiling": 1, "Eyeglasses": 0}
    with pytest.raises(QueryError, match="Smilng"):
        parse_where("Smilng=1")
    with pytest.raises(QueryError, match="0 or 1"):
        parse_where("Smiling=2")


def test_unknown_query_is_a_clear_error(emb_dir: Path) -> None:
    with pytest.raises(QueryError, match="neither an image id"):
        retrieve(load_embeddings(emb_dir), ["nope.jpg"], k=3)


def test_cli_writes_json_png_html(
    emb_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from celebalab.cli import main

    emb = load_embeddings(emb_dir)
    out = tmp_path / "r"
    assert main(["retrieve", str(emb_dir), emb.image_ids[0], emb.image_ids[1], "--k", "4",
                 "--out", str(out)]) == 0  # fmt: skip
    text = capsys.readouterr().out
    assert f"query {emb.image_ids[0]}" in text and "distance" in text
    doc = json.loads((out / "results.json").read_text())
    assert [len(q["neighbours"]) for q in doc["queries"]] == [4, 4]
    assert (out / "grid.png").stat().st_size > 1000
    assert "data:image/png;base64" in (out / "results.html").read_text()
    assert main(["retrieve", str(emb_dir), emb.image_ids[0], "--out", str(out)]) == 2


#: A bad retrieve flag and the words of its one-line refusal.
BAD_FLAGS = {
    ("--k", "0"): "--k must be >= 1",
    ("--by", "faces"): "--by must be one of embedding",
    ("--index", "flat"): "--index must be one of auto",
    ("--hnsw-m", "2"): "--hnsw-m",
}


def test_cli_options_are_checked_before_the_set_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """retrieve's flags come from RetrieveOptions (index settings nested): one line each, said
    before the set is read."""
    for flag, words in BAD_FLAGS.items():
        argv = ["retrieve", str(tmp_path / "no_set"), "000001.jpg", *flag]
        assert "no_set" not in refused_in_one_line(argv, capsys, words)


def test_memmap_search_survives_faiss_torch_patch(emb_dir: Path) -> None:
    """pytorch-metric-learning imports faiss.contrib.torch_utils, which re-binds faiss.knn."""
    import faiss.contrib.torch_utils  # noqa: F401

    emb = load_embeddings(emb_dir)
    _, idx = build_index(emb, kind="exact").search(np.asarray(emb.vectors[:2]), 3)
    assert idx[:, 0].tolist() == [0, 1]


def test_pq_falls_back_to_exact_when_its_target_recall_is_out_of_reach(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    tight = (1 + 0.01 * rng.normal(size=(3000, 64))).astype(np.float32)  # all nearly one vector
    tight /= np.linalg.norm(tight, axis=1, keepdims=True)
    index = EmbeddingIndex(kind="pq").fit(tight)
    assert index.kind_ == "exact" and index.recall_at_10_ == 1.0
    assert "pq" in index.fallback_ and "0.95" in index.fallback_ and "exact" in index.fallback_
    _, found = index.search(tight[:3], 5)
    exact = EmbeddingIndex(kind="exact").fit(tight)
    np.testing.assert_array_equal(found, exact.search(tight[:3], 5)[1])
    index.save(tmp_path / "i.faiss", "fp")
    again = EmbeddingIndex(kind="pq")
    assert again.load(tmp_path / "i.faiss", tight, "fp") and again.fallback_ == index.fallback_
    assert EmbeddingIndex(kind="pq").fit(clustered()).fallback_ is None


def test_retrieve_says_when_k_is_capped(emb_dir: Path) -> None:
    emb = load_embeddings(emb_dir)
    result = retrieve(emb, [emb.image_ids[0]], k=100_000_000)
    assert result.k == len(emb) and len(result.neighbours[0]) == len(emb) - 1
    assert any("--k 100000000" in note and str(len(emb)) in note for note in result.notes)
    assert retrieve(emb, [emb.image_ids[0]], k=3).notes == []


def test_where_refuses_two_values_for_one_label() -> None:
    with pytest.raises(QueryError, match=r"Smiling.*twice"):
        parse_where("Smiling=1,Smiling=0")
    assert parse_where("Smiling=1,Smiling=1") == {"Smiling": 1}


def test_image_paths_stay_inside_the_image_folder(
    emb_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from celebalab.embeddings.store import write_embedding_set
    from celebalab.retrieval import grid

    emb = load_embeddings(emb_dir)
    meta = emb.meta.copy()
    meta.loc[1, "image_id"] = "../outside.jpg"
    write_embedding_set(tmp_path / "e", [np.asarray(emb.vectors)], meta,
                        source=emb.manifest["source"], images=emb.image_dir)  # fmt: skip
    bad = load_embeddings(tmp_path / "e")
    assert bad.image_path("../outside.jpg") is None and bad.image_path("/etc/passwd") is None
    assert bad.image_path(emb.image_ids[0]) == emb.image_dir / emb.image_ids[0]
    opened: list[Path | None] = []
    monkeypatch.setattr(grid, "_thumb", lambda path: opened.append(path))
    result = retrieve(bad, ["../outside.jpg", emb.image_ids[1 + 1]], k=3)
    assert result.queries[0].path is None
    grid.write_retrieval_outputs(result, bad, tmp_path / "out")
    assert all(p is None or p.parent == emb.image_dir for p in opened) and None in opened


def test_cli_checks_out_before_searching(
    emb_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from celebalab.cli import main

    query = load_embeddings(emb_dir).image_ids[0]
    (tmp_path / "afile").write_text("x")
    for out in (tmp_path / "afile", tmp_path / "afile" / "sub"):
        assert main(["retrieve", str(emb_dir), query, "--out", str(out)]) == 2
        captured = capsys.readouterr()
        assert captured.out == "" and captured.err.startswith("error: --out")
        assert "\n" not in captured.err.strip()
