"""``embed evaluate``: the embedding and both baselines measured on the same images and pairs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from celebalab.embeddings import load_embeddings
from celebalab.embeddings.evaluate import evaluate_embeddings, write_evaluation
from celebalab.embeddings.store import EmbeddingSetError
from celebalab.metrics.recognition import identification_metrics
from embedding_runs import extracted_set


@pytest.fixture(scope="module")
def emb_dir(synth_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return extracted_set(tmp_path_factory.mktemp("evaluate"), synth_root / "CelebA")


def test_methods_on_the_same_images(emb_dir: Path) -> None:
    from sklearn.decomposition import PCA

    from celebalab.datasets.decode import load_resized

    emb = load_embeddings(emb_dir)
    result = evaluate_embeddings(emb, "all", pixel_size=16, pca_components=20)
    assert list(result.table.index) == ["embedding", "pixel PCA", "attribute probabilities"]
    ids = emb.meta["identity"].to_numpy()
    own = identification_metrics(np.asarray(emb.vectors), ids)
    assert result.table.loc["embedding", "map_at_r"] == pytest.approx(own["map_at_r"])
    pixels = np.stack([load_resized(emb.image_dir / i, 16, "center").reshape(-1)
                       for i in emb.image_ids]).astype(np.float32) / 255  # fmt: skip
    projected = PCA(n_components=20, random_state=0, svd_solver="randomized").fit_transform(pixels)
    ref = identification_metrics(projected, ids)
    assert result.table.loc["pixel PCA", "precision_at_1"] == pytest.approx(
        ref["precision_at_1"], abs=0.02
    )  # randomized SVD: same seed, float32 vs float64 input
    probs = identification_metrics(emb.probabilities(), ids, "euclidean")
    assert result.table.loc["attribute probabilities", "map_at_r"] == pytest.approx(
        probs["map_at_r"]
    )
    pairs = result.table["pairs"].unique()
    assert len(pairs) == 1  # every method scored on the same pairs


def test_split_and_probability_source(emb_dir: Path, tmp_path: Path) -> None:
    emb = load_embeddings(emb_dir)
    test = evaluate_embeddings(emb, "test", probabilities=emb_dir, baselines=True)
    assert test.settings["images"] == int((emb.meta["partition"] == 2).sum())
    imported = tmp_path / "imp"
    from celebalab.embeddings.store import standard_meta, write_embedding_set

    meta = standard_meta(emb.image_ids, emb.meta["identity"])
    write_embedding_set(imported, [np.asarray(emb.vectors)], meta, source={"type": "npy"})
    with pytest.raises(EmbeddingSetError, match="--split all"):
        evaluate_embeddings(imported, "test")
    result = evaluate_embeddings(imported, "all")
    assert list(result.table.index) == ["embedding"]
    assert any("pixel PCA baseline absent" in n for n in result.notes)
    assert any("attribute-probability baseline absent" in n for n in result.notes)


def test_outputs_and_overwrite(emb_dir: Path) -> None:
    result = evaluate_embeddings(emb_dir, "val", pixel_size=16)
    paths = write_evaluation(result, overwrite=True)
    doc = json.loads(paths["json"].read_text())
    assert set(doc["methods"]) == set(result.table.index)
    assert paths["png"].stat().st_size > 1000
    assert "verification ROC" in paths["html"].read_text()
    with pytest.raises(EmbeddingSetError, match="--overwrite"):
        write_evaluation(result)


def test_one_identity_is_nan_and_said(
    emb_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from celebalab.cli import main
    from celebalab.embeddings.store import standard_meta, write_embedding_set

    emb = load_embeddings(emb_dir)
    meta = standard_meta(emb.image_ids, np.full(len(emb), 7))
    write_embedding_set(tmp_path / "one", [np.asarray(emb.vectors)], meta, source={"type": "npy"})
    assert main(["embed", "evaluate", str(tmp_path / "one"), "--split", "all"]) == 0
    out = capsys.readouterr().out
    assert "1.0000" not in out and "nan" in out.lower()
    notes = [line for line in out.splitlines() if "one identity" in line]
    assert len(notes) == 1 and notes[0].startswith("note: ")


def test_max_pairs_names_only_real_options(emb_dir: Path, capsys: pytest.CaptureFixture) -> None:
    from celebalab.cli import main

    assert main(["embed", "evaluate", str(emb_dir), "--max-pairs", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --max-pairs") and "--pca-components" not in err
