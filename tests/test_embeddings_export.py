"""``embed export --format celeba-vis``: the CelebA-Vis CSV layout, read back by ``embed import``
and by pandas on its own."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from celebalab.datasets.schema import ATTRIBUTE_NAMES
from celebalab.embeddings import _export as export_module
from celebalab.embeddings import import_celeba_vis_csv
from celebalab.embeddings._export import export_celeba_vis
from celebalab.embeddings.store import (
    EmbeddingSet,
    EmbeddingSetError,
    standard_meta,
    write_embedding_set,
)
from celebalab.errors import OptionError

N, DIM = 11, 6


def make_set(folder: Path, labelled: bool = True) -> EmbeddingSet:
    """A set with float32 vectors of full precision, identities and (maybe) 0/1 labels."""
    rng = np.random.default_rng(3)
    vectors = (rng.normal(size=(N, DIM)) * 10.0 ** rng.integers(-6, 6, (N, DIM))).astype(np.float32)
    labels = rng.integers(0, 2, (N, len(ATTRIBUTE_NAMES))) if labelled else None
    ids = [f"{i + 1:06d}.jpg" for i in range(N)]
    meta = standard_meta(ids, rng.integers(1, 50, N), rng.integers(0, 3, N), labels)
    return write_embedding_set(folder, [vectors[:4], vectors[4:]], meta, source={"type": "test"})


@pytest.mark.parametrize("chunk_rows", [4096, 3])
def test_round_trip_through_embed_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk_rows: int
) -> None:
    monkeypatch.setattr(export_module, "_CHUNK_ROWS", chunk_rows)
    emb = make_set(tmp_path / "emb")
    csv = export_celeba_vis(emb.path, tmp_path / "out.csv")
    again = import_celeba_vis_csv(csv, tmp_path / "again")
    np.testing.assert_array_equal(np.asarray(again.vectors), np.asarray(emb.vectors))
    assert again.image_ids == emb.image_ids
    np.testing.assert_array_equal(again.meta["identity"], emb.meta["identity"])
    np.testing.assert_array_equal(again.labels(), emb.labels())
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_layout_read_by_pandas(tmp_path: Path) -> None:
    emb = make_set(tmp_path / "emb")
    csv = export_celeba_vis(emb, tmp_path / "out.csv")
    frame = pd.read_csv(csv)
    embedding = [f"embedding_{k}" for k in range(DIM)]
    assert list(frame.columns) == [*ATTRIBUTE_NAMES, "image_name", "id", *embedding]
    assert len(frame) == N
    row = frame.iloc[7]
    expected = np.where(emb.labels()[7] > 0, 1, -1)
    np.testing.assert_array_equal(row[list(ATTRIBUTE_NAMES)].to_numpy(np.int64), expected)
    assert row["image_name"] == "000008.jpg" and row["id"] == emb.meta["identity"].iloc[7]
    np.testing.assert_array_equal(row[embedding].to_numpy(np.float32), emb.vectors[7])


def test_set_without_labels_is_refused(tmp_path: Path) -> None:
    emb = make_set(tmp_path / "emb", labelled=False)
    with pytest.raises(EmbeddingSetError, match=f"{N} of {N} images have no attribute labels"):
        export_celeba_vis(emb, tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()


def test_existing_file_needs_overwrite(tmp_path: Path) -> None:
    emb = make_set(tmp_path / "emb")
    out = tmp_path / "out.csv"
    out.write_text("old")
    with pytest.raises(OptionError, match="--overwrite"):
        export_celeba_vis(emb, out)
    assert out.read_text() == "old"
    export_celeba_vis(emb, out, overwrite=True)
    assert out.read_text().startswith("5_o_Clock_Shadow,")


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from celebalab.cli import main

    make_set(tmp_path / "emb")
    make_set(tmp_path / "bare", labelled=False)
    emb, bare, out = (str(tmp_path / name) for name in ("emb", "bare", "out.csv"))
    assert main(["embed", "export", emb, "--out", out]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    for args, words in (
        ([emb, "--out", out, "--format", "parquet"], "--format must be one of celeba-vis"),
        ([emb, "--out", out], "file exists"),
        ([bare, "--out", str(tmp_path / "b.csv")], "embed extract"),
    ):
        assert main(["embed", "export", *args]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and words in err and "\n" not in err


def test_export_options_are_declared_once() -> None:
    """embed export's --format comes from EmbeddingExportOptions: checked, unknown keys refused."""
    from celebalab.embeddings import EmbeddingExportOptions
    from celebalab.options import ConfigError

    with pytest.raises(ConfigError, match="--format must be one of celeba-vis, not 'parquet'"):
        EmbeddingExportOptions(fmt="parquet")
    with pytest.raises(ConfigError, match="unknown export option\\(s\\) format"):
        EmbeddingExportOptions.from_dict({"format": "celeba-vis"})
    assert EmbeddingExportOptions().fmt == "celeba-vis"
