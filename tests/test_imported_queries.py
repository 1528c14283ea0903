"""Photo queries through imported runs: ``retrieve EMB photo.jpg`` on a set extracted by one, and
the explorer's similar faces of an upload for a CSV-imported set (``explore SET --model RUN``)."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from celebalab.errors import OptionError
from celebalab.explorer._images import UploadError
from celebalab.explorer._query import use_model
from celebalab.explorer.sources import open_source
from celebalab.models.imported import ImportOptions, import_model
from imported_models import export, tiny_net

SIZE = 32
SAMPLES = Path(__file__).parent / "data" / "formats" / "celeba" / "img_align_celeba"


def tiny_run(folder: Path, outputs: int = 16) -> Path:
    """An identity run imported from a traced TorchScript module (crop alignment: no detector)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = export(tiny_net(outputs), folder / "tiny.ts", SIZE, "torchscript")
    options = ImportOptions(kind="identity", input_size=SIZE, alignment="crop-center")
    return import_model(str(path), folder / "run", options)


@pytest.fixture(scope="module")
def imported_set(synth_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every synthetic CelebA image embedded through the tiny imported run."""
    from celebalab.embeddings.extract import extract_embeddings

    base = tmp_path_factory.mktemp("imported")
    extract_embeddings(tiny_run(base), synth_root / "CelebA", base / "emb")
    return base / "emb"


def test_retrieve_a_photo_through_the_imported_run(imported_set: Path, tmp_path: Path, capsys):
    from celebalab.cli import main
    from celebalab.embeddings import load_embeddings

    emb = load_embeddings(imported_set)
    photo = tmp_path / "photo.jpg"
    shutil.copy(emb.image_path(emb.image_ids[5]), photo)
    assert main(["retrieve", str(imported_set), str(photo), "--k", "3"]) == 0
    first = capsys.readouterr().out.splitlines()[1].split()
    assert first[:2] == ["1", emb.image_ids[5]] and float(first[3]) < 1e-4


def test_several_faces_in_a_photo_are_one_note_line(tmp_path: Path, capsys) -> None:
    """dlib's detector on two real faces side by side: the largest is used, and said so."""
    from celebalab.cli import main

    emb = dlib_set(tmp_path, record_run=True)
    big, small = (Image.open(SAMPLES / name) for name in ("000001.jpg", "000002.jpg"))
    photo = Image.new("RGB", (big.width + 140, big.height), (128, 128, 128))
    photo.paste(big, (0, 0))
    photo.paste(small.resize((120, 146)), (big.width + 20, 40))
    photo.save(tmp_path / "two.jpg")
    assert main(["retrieve", str(emb), str(tmp_path / "two.jpg"), "--k", "1"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].split()[1] == "000001.jpg"  # the larger face
    assert f"note: {tmp_path / 'two.jpg'}: 2 faces found; the largest was used" in out


def dlib_set(folder: Path, record_run: bool) -> Path:
    """``folder/emb``: the two real sample faces through dlib's recogniser (``folder/dlib``); the
    set names that run, or none (as a CSV import)."""
    from celebalab.embeddings.features import file_vectors
    from celebalab.embeddings.store import standard_meta, write_embedding_set
    from celebalab.models.run import load_run

    run_dir = import_model("dlib", folder / "dlib")
    files = [SAMPLES / "000001.jpg", SAMPLES / "000002.jpg"]
    _, vectors, _, _ = file_vectors(load_run(run_dir), files)
    source = (
        {"type": "run", "run": str(run_dir), "normalise": True} if record_run else {"type": "csv"}
    )
    write_embedding_set(folder / "emb", [vectors], standard_meta([f.name for f in files]),
                        source=source, images=SAMPLES)  # fmt: skip
    return folder / "emb"


@pytest.fixture(scope="module")
def csv_source(imported_set: Path, tmp_path_factory: pytest.TempPathFactory):
    """The imported set exported to a CelebA-Vis CSV and opened by the explorer (no run)."""
    from celebalab.embeddings._export import export_celeba_vis

    csv = export_celeba_vis(imported_set, tmp_path_factory.mktemp("csv") / "celeba_tiny.csv")
    return open_source(csv)


def test_explore_csv_set_with_the_run_that_made_it(imported_set: Path, csv_source) -> None:
    from celebalab.embeddings import load_embeddings
    from celebalab.explorer.views import Explorer

    image = Image.open(load_embeddings(imported_set).image_path("000006.jpg"))
    assert csv_source.model_run is None
    with pytest.raises(UploadError, match="--model RUN"):
        Explorer(sources=[csv_source]).similar_to_upload(0, image)
    (source,) = use_model([csv_source], imported_set.parent / "run")
    explorer = Explorer(sources=[source])
    rows = explorer.similar_to_upload(0, image, k=3)
    assert source.meta["image_id"].iloc[rows[0]] == "000006.jpg"
    assert len(rows) == 3


def test_explore_model_of_another_dimension_is_one_line(csv_source, tmp_path: Path, capsys):
    from celebalab.cli import main

    other = tiny_run(tmp_path, outputs=8)
    with pytest.raises(OptionError, match=r"8-dimensional vectors, .* 16-dimensional ones"):
        use_model([csv_source], other)
    with socket.socket() as probe:  # a free port: the command binds before opening sources
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    args = ["explore", str(csv_source.path), "--model", str(other), "--port", str(port)]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --model ") and "8-dimensional" in err and "\n" not in err


def test_explore_model_needs_an_embedding_set(synth_root: Path, imported_set: Path) -> None:
    with pytest.raises(OptionError, match="no SOURCE is an embedding set"):
        use_model([open_source(synth_root / "CelebA")], imported_set.parent / "run")


def test_upload_without_a_face_names_the_reason(imported_set: Path, tmp_path: Path) -> None:
    from celebalab.explorer._query import embed_upload

    source = open_source(imported_set)
    aligned = Image.new("RGB", (178, 218))  # CelebA's aligned size: cropped, no detection
    assert np.asarray(embed_upload(source, aligned)).shape == (16,)
    (dlib_source,) = use_model([open_source(dlib_set(tmp_path, False))], tmp_path / "dlib")
    with pytest.raises(UploadError, match="no face found"):
        embed_upload(dlib_source, Image.new("RGB", (120, 120), (90, 90, 90)))
