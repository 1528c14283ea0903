"""Embedding set store and ``embed import``: round trips and every kind of bad input."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from celebalab.datasets.schema import ATTRIBUTE_NAMES
from celebalab.embeddings import (
    EmbeddingImportOptions,
    import_celeba_vis_csv,
    import_npy,
    load_embeddings,
)
from celebalab.embeddings.store import MANIFEST, EmbeddingSetError
from celebalab.errors import DataFormatError, OptionError
from celebalab.options import ConfigError

N, DIM = 12, 8


def vis_frame(seed: int = 0, minus_one: bool = True, index_column: bool = False) -> pd.DataFrame:
    """A CelebA-Vis-shaped table: 40 attributes, image_name, id, embedding_0…"""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, (N, len(ATTRIBUTE_NAMES)))
    data = {n: (labels[:, j] * 2 - 1 if minus_one else labels[:, j])
            for j, n in enumerate(ATTRIBUTE_NAMES)}  # fmt: skip
    data["image_name"] = [f"{i + 1:06d}.jpg" for i in range(N)]
    data["id"] = rng.integers(1, 5, N)
    vectors = rng.normal(size=(N, DIM))
    data.update({f"embedding_{k}": vectors[:, k] for k in range(DIM)})
    frame = pd.DataFrame(data)
    return frame.reset_index().rename(columns={"index": "Unnamed: 0"}) if index_column else frame


def write_csv(path: Path, frame: pd.DataFrame) -> Path:
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("minus_one", [True, False])
def test_csv_round_trip(tmp_path: Path, minus_one: bool) -> None:
    frame = vis_frame(minus_one=minus_one, index_column=True)
    csv = write_csv(tmp_path / "celeba_buffalo_s.csv", frame)
    emb = import_celeba_vis_csv(csv, tmp_path / "emb")
    again = load_embeddings(tmp_path / "emb")
    assert isinstance(again.vectors, np.memmap) and again.vectors.dtype == np.float32
    expected = frame[[f"embedding_{k}" for k in range(DIM)]].to_numpy(np.float32)
    np.testing.assert_array_equal(np.asarray(again.vectors), expected)
    assert again.image_ids == frame["image_name"].tolist()
    np.testing.assert_array_equal(again.meta["identity"], frame["id"])
    labels = frame[list(ATTRIBUTE_NAMES)].to_numpy()
    np.testing.assert_array_equal(again.labels(), (labels > 0).astype(np.int8))
    assert (again.meta["partition"] == -1).all()
    assert again.meta["partition"].dtype == np.int8 and again.meta["identity"].dtype == np.int64
    assert again.manifest["source"]["arch"] == "insightface:buffalo_s"
    assert again.fingerprint == emb.fingerprint and not again.normalised
    assert again.probabilities() is None and again.image_dir is None


def test_fingerprint_changes_with_content(tmp_path: Path) -> None:
    a = import_celeba_vis_csv(write_csv(tmp_path / "a.csv", vis_frame(0)), tmp_path / "a")
    b = import_celeba_vis_csv(write_csv(tmp_path / "b.csv", vis_frame(1)), tmp_path / "b")
    assert a.fingerprint != b.fingerprint


def _corrupt(frame: pd.DataFrame, kind: str) -> str:
    """CSV text of ``frame`` with one defect; returns the text."""
    text = frame.to_csv(index=False)
    lines = text.splitlines()
    if kind == "nan":
        frame = frame.astype({"embedding_3": object})
        frame.loc[4, "embedding_3"] = "nan"
    elif kind == "text":
        frame = frame.astype({"embedding_5": object})
        frame.loc[6, "embedding_5"] = "abc"
    elif kind == "dup":
        frame.loc[9, "image_name"] = frame.loc[2, "image_name"]
    elif kind == "short":
        lines[7] = lines[7].rsplit(",", 1)[0]
        return "\n".join(lines) + "\n"
    elif kind == "long":
        lines[8] = lines[8] + ",0.5"
        return "\n".join(lines) + "\n"
    elif kind == "missing":
        frame = frame.drop(columns=["Smiling"])
    elif kind == "gap":
        frame = frame.drop(columns=["embedding_2"])
    elif kind == "attr":
        frame.loc[3, "Male"] = 2
    return frame.to_csv(index=False)


@pytest.mark.parametrize(
    ("kind", "line", "words"),
    [
        ("nan", 6, ["embedding_3", "NaN"]),
        ("text", 8, ["embedding_5", "'abc'", "not a number"]),
        ("dup", 11, ["image_name", "repeats line 4"]),
        ("short", 8, ["fields", "mixed embedding dimensions"]),
        ("long", 9, ["fields", "mixed embedding dimensions"]),
        ("missing", 1, ["Smiling"]),
        ("gap", 1, ["embedding_2"]),
        ("attr", 5, ["Male", "value 2"]),
    ],
)
def test_bad_csv_names_file_line_column(
    tmp_path: Path, kind: str, line: int, words: list[str]
) -> None:
    csv = tmp_path / "bad.csv"
    csv.write_text(_corrupt(vis_frame(), kind))
    with pytest.raises(DataFormatError) as info:
        import_celeba_vis_csv(csv, tmp_path / "emb")
    message = str(info.value)
    assert message.startswith(f"{csv}:{line}: "), message
    for word in words:
        assert word in message
    assert not (tmp_path / "emb").exists() or not any((tmp_path / "emb").iterdir())


def test_empty_and_missing_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataFormatError, match="empty file"):
        import_celeba_vis_csv(empty, tmp_path / "emb")
    with pytest.raises(DataFormatError, match="file not found"):
        import_celeba_vis_csv(tmp_path / "nope.csv", tmp_path / "emb")


def test_no_overwrite_without_flag(tmp_path: Path) -> None:
    csv = write_csv(tmp_path / "a.csv", vis_frame())
    import_celeba_vis_csv(csv, tmp_path / "emb")
    with pytest.raises(OptionError, match="not empty; pass --overwrite"):
        import_celeba_vis_csv(csv, tmp_path / "emb")
    import_celeba_vis_csv(write_csv(tmp_path / "b.csv", vis_frame(3)), tmp_path / "emb",
                          overwrite=True)  # fmt: skip
    assert load_embeddings(tmp_path / "emb").fingerprint != ""


def test_incomplete_set_is_never_read(tmp_path: Path) -> None:
    csv = write_csv(tmp_path / "a.csv", vis_frame())
    import_celeba_vis_csv(csv, tmp_path / "emb")
    (tmp_path / "emb" / MANIFEST).unlink()
    with pytest.raises(EmbeddingSetError, match="not a complete embedding set"):
        load_embeddings(tmp_path / "emb")


def test_truncated_vectors_detected(tmp_path: Path) -> None:
    csv = write_csv(tmp_path / "a.csv", vis_frame())
    import_celeba_vis_csv(csv, tmp_path / "emb")
    vec = tmp_path / "emb" / "vectors.f32"
    vec.write_bytes(vec.read_bytes()[:-4])
    with pytest.raises(EmbeddingSetError, match="corrupt"):
        load_embeddings(tmp_path / "emb")


def test_npy_round_trip_and_root_join(tmp_path: Path, synth_root: Path) -> None:
    from celebalab.datasets.table import load_table

    table = load_table(synth_root / "CelebA")
    ids = table["image_id"].tolist()[:10]
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(10, 6)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    np.save(tmp_path / "v.npy", vectors)
    (tmp_path / "ids.txt").write_text("\n".join(ids) + "\n")
    emb = import_npy(tmp_path / "v.npy", tmp_path / "ids.txt", tmp_path / "emb",
                     root=synth_root / "CelebA")  # fmt: skip
    np.testing.assert_array_equal(np.asarray(emb.vectors), vectors)
    assert emb.normalised
    np.testing.assert_array_equal(emb.meta["partition"], table["partition"][:10])
    np.testing.assert_array_equal(emb.meta["identity"], table["identity"][:10])
    np.testing.assert_array_equal(emb.labels(), table[list(ATTRIBUTE_NAMES)][:10])
    assert emb.image_dir is not None and (emb.image_dir / ids[0]).is_file()


@pytest.mark.parametrize(
    ("ids_text", "array", "words"),
    [
        ("a.jpg\nb.jpg\n", np.zeros((3, 4)), "2 ids for 3 vectors"),
        ("a.jpg 1\nb.jpg\nc.jpg 2\n", np.zeros((3, 4)), "ids.txt:2:"),
        ("a.jpg\na.jpg\nc.jpg\n", np.zeros((3, 4)), "repeats line 1"),
        ("a.jpg x\nb.jpg 1\nc.jpg 2\n", np.zeros((3, 4)), "not an integer"),
        ("a.jpg\nb.jpg\nc.jpg\n", np.array([[0, 1.0], [np.nan, 1], [0, 0]]), "row 1, column 0"),
        ("a.jpg\nb.jpg\nc.jpg\n", np.zeros(3), "N×D"),
    ],
)
def test_bad_npy_inputs(tmp_path: Path, ids_text: str, array: np.ndarray, words: str) -> None:
    np.save(tmp_path / "v.npy", array)
    (tmp_path / "ids.txt").write_text(ids_text)
    with pytest.raises(DataFormatError, match=words):
        import_npy(tmp_path / "v.npy", tmp_path / "ids.txt", tmp_path / "emb")
    assert not (tmp_path / "emb").exists()


def test_cli_import_reports_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from celebalab.cli import main

    csv = tmp_path / "bad.csv"
    csv.write_text(_corrupt(vis_frame(), "nan"))
    assert main(["embed", "import", str(csv), "--out", str(tmp_path / "e")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {csv}:6:") and "\n" not in err
    good = write_csv(tmp_path / "good.csv", vis_frame())
    assert main(["embed", "import", str(good), "--out", str(tmp_path / "e")]) == 0
    assert "imported 12 embeddings of dimension 8" in capsys.readouterr().out


def _cli_error(argv: list[str], capsys: pytest.CaptureFixture) -> str:
    """Run the CLI expecting one ``error:`` line (exit 2); return that line."""
    from celebalab.cli import main

    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    return err


def test_cli_import_bad_paths_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    np.save(tmp_path / "v.npy", np.zeros((3, 4)))
    good = write_csv(tmp_path / "good.csv", vis_frame())
    (tmp_path / "afile").write_text("x")
    out = str(tmp_path / "o")
    assert "folder" in _cli_error(["embed", "import", str(tmp_path), "--out", out], capsys)
    npy = ["embed", "import", str(tmp_path / "v.npy"), "--out", out]
    assert "folder" in _cli_error([*npy, "--ids", str(tmp_path)], capsys)
    assert "afile" in _cli_error(["embed", "import", str(good), "--out",
                                  str(tmp_path / "afile" / "sub")], capsys)  # fmt: skip
    (tmp_path / "ids.txt").write_text("a.jpg\nb.jpg\nc.jpg\n")
    err = _cli_error(["embed", "import", str(good), "--out", out, "--ids",
                      str(tmp_path / "ids.txt")], capsys)  # fmt: skip
    assert "--ids" in err and ".npy" in err


def test_import_options_are_declared_once(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """embed import's --images, --ids and --root come from EmbeddingImportOptions (paths: no
    value to refuse but unknown names)."""
    from celebalab.cli import main

    with pytest.raises(ConfigError, match="unknown import option\\(s\\) labels"):
        EmbeddingImportOptions.from_dict({"images": "img", "labels": "x"})
    assert EmbeddingImportOptions.from_dict({"ids": "ids.txt"}).ids == "ids.txt"
    assert main(["embed", "import", "--help"]) == 0
    shown = capsys.readouterr().out
    assert all(flag in shown for flag in ("--images", "--ids", "--root", "--overwrite"))


def test_huge_identity_is_a_line_error(tmp_path: Path) -> None:
    np.save(tmp_path / "v.npy", np.zeros((3, 4)))
    (tmp_path / "ids.txt").write_text("a.jpg 1\nb.jpg 99999999999999999999999\nc.jpg 2\n")
    with pytest.raises(DataFormatError, match=r"ids.txt:2: .*out of range"):
        import_npy(tmp_path / "v.npy", tmp_path / "ids.txt", tmp_path / "emb")
    frame = vis_frame().astype({"id": object})
    frame.loc[4, "id"] = 99999999999999999999999
    csv = write_csv(tmp_path / "big.csv", frame)
    with pytest.raises(DataFormatError, match=r"big.csv:6: column id: .*out of range"):
        import_celeba_vis_csv(csv, tmp_path / "emb")


def test_latin1_byte_in_a_late_row_names_its_line(tmp_path: Path) -> None:
    frame = pd.concat([vis_frame()] * 400, ignore_index=True)
    frame["image_name"] = [f"{i:06d}.jpg" for i in range(len(frame))]
    lines = frame.to_csv(index=False).encode().splitlines()
    lines[4000] = lines[4000].replace(b".jpg", b"\xe9.jpg")
    csv = tmp_path / "latin.csv"
    csv.write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(DataFormatError, match=r"latin.csv:4001: not UTF-8"):
        import_celeba_vis_csv(csv, tmp_path / "emb")


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    csv = tmp_path / "bom.csv"
    csv.write_bytes(b"\xef\xbb\xbf" + vis_frame().to_csv(index=False).encode())
    emb = import_celeba_vis_csv(csv, tmp_path / "emb")
    assert emb.image_ids[0] == "000001.jpg" and len(emb) == N


def test_value_beyond_float32_is_named(tmp_path: Path) -> None:
    frame = vis_frame()
    frame.loc[2, "embedding_1"] = 1e39
    csv = write_csv(tmp_path / "big.csv", frame)
    with warnings.catch_warnings(), pytest.raises(DataFormatError, match=r"big.csv:4: .*float32"):
        warnings.simplefilter("error")
        import_celeba_vis_csv(csv, tmp_path / "emb")


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/passwd", "sub/../../x", ".hidden",
                                  "a\\b.jpg", "two\nlines.jpg"])  # fmt: skip
def test_image_names_must_be_plain_file_names(tmp_path: Path, name: str) -> None:
    frame = vis_frame()
    frame.loc[3, "image_name"] = name
    csv = write_csv(tmp_path / "bad.csv", frame)
    with pytest.raises(DataFormatError, match=r"bad.csv:5: .*plain file name"):
        import_celeba_vis_csv(csv, tmp_path / "emb")
    np.save(tmp_path / "v.npy", np.zeros((3, 4)))
    (tmp_path / "ids.txt").write_text(f"a.jpg\n{name.splitlines()[0]}\nc.jpg\n")
    if "\n" not in name:
        with pytest.raises(DataFormatError, match=r"ids.txt:2: .*plain file name"):
            import_npy(tmp_path / "v.npy", tmp_path / "ids.txt", tmp_path / "emb")


def test_root_join_says_how_many_rows_are_missing(
    tmp_path: Path, synth_root: Path, capsys: pytest.CaptureFixture
) -> None:
    from celebalab.cli import main
    from celebalab.datasets.table import load_table

    ids = [*load_table(synth_root / "CelebA")["image_id"].tolist()[:3], "999999.jpg"]
    np.save(tmp_path / "v.npy", np.ones((4, 3)))
    (tmp_path / "ids.txt").write_text("\n".join(ids) + "\n")
    argv = ["embed", "import", str(tmp_path / "v.npy"), "--ids", str(tmp_path / "ids.txt"),
            "--out", str(tmp_path / "emb"), "--root", str(synth_root / "CelebA")]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "1 of 4" in out and "partition" in out
    assert load_embeddings(tmp_path / "emb").manifest["data"]["unmatched"] == 1
