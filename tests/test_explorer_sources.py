"""Explorer sources (embedding set, CelebA-Vis CSV, dataset root), images and uploads."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from celebalab.datasets.schema import ATTRIBUTE_NAMES
from celebalab.errors import CelebalabError
from celebalab.explorer._images import ImageStore, UploadError, decode_upload
from celebalab.explorer.sources import open_source, open_sources


def _data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode()


def test_embedding_set_and_dataset_root(synthetic_embedding_set: Path, synth_root: Path) -> None:
    emb, root = open_sources([synthetic_embedding_set, synth_root / "CelebA"])
    assert emb.has_embeddings and emb.vectors.shape == (len(emb.meta), 32)
    assert list(emb.meta.columns[:3]) == ["image_id", "identity", "partition"]
    assert emb.meta[list(ATTRIBUTE_NAMES)].dtypes.eq(np.int8).all()
    assert not root.has_embeddings and "disabled" in root.note
    assert emb.meta["image_id"].tolist() == root.meta["image_id"].tolist()
    assert emb.image_file(0) == root.image_file(0)
    assert emb.image_file(0).is_file()
    assert emb.fingerprint != root.fingerprint


def test_same_folder_names_are_made_unique(synthetic_embedding_set: Path) -> None:
    names = [s.name for s in open_sources([synthetic_embedding_set, synthetic_embedding_set])]
    assert len(set(names)) == 2


def test_bad_sources_are_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "empty").mkdir()
    for bad, words in (
        (tmp_path / "missing", "no such file"),
        (tmp_path / "notes.txt", "not a"),
        (tmp_path / "empty", ""),
    ):
        with pytest.raises(CelebalabError, match=words):
            open_source(bad)
    with pytest.raises(CelebalabError):
        open_sources([])


def test_celeba_vis_csv_is_imported_once(
    synthetic_embedding_set: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from celebalab.embeddings import load_embeddings

    emb = load_embeddings(synthetic_embedding_set)
    frame = emb.meta[list(ATTRIBUTE_NAMES)].replace({0: -1})  # CelebA's -1/1 coding
    frame["image_name"] = emb.meta["image_id"]
    frame["id"] = emb.meta["identity"]
    for k in range(emb.dim):
        frame[f"embedding_{k}"] = np.asarray(emb.vectors[:, k])
    csv = tmp_path / "celeba_buffalo_s.csv"
    frame.to_csv(csv, index=False)
    source = open_source(csv)
    assert source.name == "celeba_buffalo_s"
    np.testing.assert_allclose(source.vectors, emb.vectors, rtol=1e-6)
    assert np.array_equal(source.meta[list(ATTRIBUTE_NAMES)], emb.meta[list(ATTRIBUTE_NAMES)])

    def no_reimport(*args, **kwargs):
        raise AssertionError("the cached import should be reused")

    monkeypatch.setattr("celebalab.embeddings.import_celeba_vis_csv", no_reimport)
    assert open_source(csv).fingerprint == source.fingerprint


def test_image_store_serves_only_mapped_files(
    synthetic_embedding_set: Path, tmp_path: Path
) -> None:
    source = open_source(synthetic_embedding_set)
    store = ImageStore(sources=[source])
    assert store.file(0, 0) == source.image_file(0).resolve()
    for src, row in ((0, -1), (0, len(source)), (1, 0), (-1, 0)):
        assert store.file(src, row) is None
    thumb = store.thumbnail(0, 3)
    with Image.open(io.BytesIO(thumb)) as image:
        assert image.format == "JPEG" and max(image.size) <= store.thumb_size
    assert store.thumbnail(0, 3) is thumb  # from memory the second time
    cached = list(source.cache_dir.glob("thumbs-*/3.jpg"))
    assert len(cached) == 1 and cached[0].read_bytes() == thumb
    inline = store.data_url(0, 3)  # small images come inline with the click's answer
    header, payload = inline.split(",", 1)
    assert base64.b64decode(payload) == source.image_file(3).read_bytes()
    assert header.startswith("data:image/") and header.endswith(";base64")
    assert store.data_url(0, 3, most=10) is None and store.data_url(0, len(source)) is None


def test_traversal_ids_never_map_to_files(synthetic_embedding_set: Path, tmp_path: Path) -> None:
    from dataclasses import replace

    source = open_source(synthetic_embedding_set)
    secret = source.image_dir.parent / "secret.jpg"
    Image.new("RGB", (8, 8)).save(secret)
    meta = source.meta.copy()
    meta.loc[0, "image_id"] = "../secret.jpg"
    meta.loc[1, "image_id"] = str(secret)
    evil = replace(source, meta=meta)
    assert evil.image_file(0) is None and evil.image_file(1) is None
    link = source.image_dir / "link.jpg"
    link.symlink_to(secret)
    meta.loc[2, "image_id"] = "link.jpg"  # a link out of the image folder is refused too
    try:
        assert ImageStore(sources=[replace(source, meta=meta)]).file(0, 2) is None
    finally:
        link.unlink()


def test_corrupt_image_has_no_thumbnail(synthetic_embedding_set: Path, tmp_path: Path) -> None:
    from dataclasses import replace

    source = open_source(synthetic_embedding_set)
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / str(source.meta["image_id"].iat[0])).write_bytes(b"not a jpeg")
    broken = replace(source, image_dir=folder, cache_dir=tmp_path / "cache")
    assert ImageStore(sources=[broken]).thumbnail(0, 0) is None


def test_uploads_are_capped_and_must_decode() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 10, 10)).save(buffer, format="PNG")
    image = decode_upload(_data_url(buffer.getvalue()))
    assert image.size == (40, 30) and image.mode == "RGB"
    with pytest.raises(UploadError, match="larger"):
        decode_upload(_data_url(buffer.getvalue()), max_bytes=100)
    with pytest.raises(UploadError, match="decode"):
        decode_upload(_data_url(b"<html>not an image</html>"))
    with pytest.raises(UploadError, match="base64"):
        decode_upload("data:image/png;base64,@@@@")
    with pytest.raises(UploadError):
        decode_upload("C:/Users/me/face.png")


def test_meta_keeps_contract_dtypes_from_a_dataset_table(synth_root: Path) -> None:
    source = open_source(synth_root / "CelebA")
    assert source.meta["identity"].dtype == np.int64
    assert source.meta["partition"].dtype == np.int8
    assert isinstance(source.meta, pd.DataFrame) and len(source.meta) == 120


def test_uploaded_face_is_embedded_by_the_sets_own_run(synth_root: Path, tmp_path: Path) -> None:
    from celebalab.explorer.views import Explorer
    from embedding_runs import extracted_set

    explorer = Explorer(sources=[open_source(extracted_set(tmp_path, synth_root / "CelebA"))])
    upload = _data_url(explorer.sources[0].image_file(5).read_bytes(), "image/jpeg")
    rows = explorer.similar_to_upload(0, decode_upload(upload), k=3)
    assert rows[0] == 5  # the uploaded face finds itself first


def test_upload_needs_a_set_with_a_model(synthetic_embedding_set: Path) -> None:
    from celebalab.explorer.views import Explorer

    explorer = Explorer(sources=[open_source(synthetic_embedding_set)])
    image = Image.new("RGB", (32, 32))
    with pytest.raises(UploadError, match="no local model"):
        explorer.similar_to_upload(0, image)


def test_cli_reports_a_bad_source_in_one_line(tmp_path: Path, capsys) -> None:
    from celebalab.cli import main

    assert main(["explore", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "no such file" in err and "\n" not in err
    assert main(["explore", str(tmp_path), "--port", "0"]) == 2
    assert "--port" in capsys.readouterr().err
