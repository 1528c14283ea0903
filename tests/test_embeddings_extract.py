"""``embed extract``: vectors equal the model's, resumable after kill -9, corrupt images skipped."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from celebalab.embeddings import extract as extract_mod
from celebalab.embeddings import load_embeddings
from celebalab.embeddings.extract import extract_embeddings
from celebalab.embeddings.store import EmbeddingSetError
from celebalab.errors import OptionError
from cli_errors import refused_in_one_line
from embedding_runs import SIZE, make_attribute_run


@pytest.fixture(scope="module")
def attr_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_attribute_run(tmp_path_factory.mktemp("run") / "run")


@pytest.fixture()
def celeba_copy(synth_root: Path, tmp_path: Path) -> Path:
    """A private copy of the synthetic CelebA tree (tests may damage it)."""
    dst = tmp_path / "CelebA"
    shutil.copytree(synth_root / "CelebA", dst, ignore=shutil.ignore_patterns(".celebalab_cache"))
    return dst


def test_vectors_match_the_model(attr_run: Path, synth_root: Path, tmp_path: Path) -> None:
    from celebalab.datasets.decode import load_resized
    from celebalab.datasets.table import load_table
    from celebalab.models.inference import model_input
    from celebalab.models.run import load_run

    root = synth_root / "CelebA"
    emb = extract_embeddings(attr_run, root, tmp_path / "emb", split="test")
    table = load_table(root)
    test = table[table["partition"] == 2]
    assert emb.image_ids == test["image_id"].tolist()
    np.testing.assert_array_equal(emb.meta["identity"], test["identity"])
    assert (emb.meta["partition"] == 2).all()
    assert emb.normalised and emb.dim == 256 and emb.manifest["source"]["type"] == "run"
    run = load_run(attr_run)
    images = np.stack([load_resized(Path(table.attrs["image_dir"]) / i, SIZE, "center")
                       for i in test["image_id"][:5]])  # fmt: skip
    x = model_input(run, images)
    with torch.no_grad():
        logits = run.model(x)
        feats = run.model.pool(run.model.features(x)).flatten(1)
    expected = torch.nn.functional.normalize(feats, dim=1).numpy()
    np.testing.assert_allclose(np.asarray(emb.vectors[:5]), expected, atol=1e-5)
    np.testing.assert_allclose(emb.probabilities()[:5], torch.sigmoid(logits).numpy(), atol=1e-5)
    assert load_embeddings(tmp_path / "emb").fingerprint == emb.fingerprint
    assert not (tmp_path / "emb" / extract_mod.WORK_DIR).exists()


def test_refuses_to_overwrite(attr_run: Path, synth_root: Path, tmp_path: Path) -> None:
    root = synth_root / "CelebA"
    extract_embeddings(attr_run, root, tmp_path / "emb", split="val")
    with pytest.raises(OptionError, match="not empty; pass --overwrite"):
        extract_embeddings(attr_run, root, tmp_path / "emb", split="test")
    emb = extract_embeddings(attr_run, root, tmp_path / "emb", split="test", overwrite=True)
    assert (emb.meta["partition"] == 2).all()


def test_resume_after_interruption(
    attr_run: Path, synth_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = synth_root / "CelebA"
    monkeypatch.setattr(extract_mod, "UNIT_ROWS", 32)
    full = extract_embeddings(attr_run, root, tmp_path / "full")
    calls: list[int] = []
    real = extract_mod._unit_result

    def flaky(job: object, index: int) -> object:
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(index)
        return real(job, index)

    monkeypatch.setattr(extract_mod, "_unit_result", flaky)
    with pytest.raises(KeyboardInterrupt):
        extract_embeddings(attr_run, root, tmp_path / "emb")
    with pytest.raises(EmbeddingSetError, match="not a complete embedding set"):
        load_embeddings(tmp_path / "emb")
    monkeypatch.setattr(extract_mod, "_unit_result", real)
    done: list[int] = []
    monkeypatch.setattr(extract_mod, "_unit_result", lambda j, i: done.append(i) or real(j, i))
    emb = extract_embeddings(attr_run, root, tmp_path / "emb")
    assert sorted(done) == [2, 3]  # 120 rows in units of 32: the two finished units are reused
    np.testing.assert_array_equal(np.asarray(emb.vectors), np.asarray(full.vectors))
    assert emb.fingerprint == full.fingerprint


_KILLER = """
import os, signal, sys
import numpy as np
from celebalab.embeddings import extract as ex
ex.UNIT_ROWS = 32
real, n = np.savez, [0]
def savez(handle, **arrays):
    n[0] += "vectors" in arrays  # units only (the dataset's presence cache is an npz too)
    if n[0] == 3:  # third unit: half a file on disk, then kill -9
        handle.write(b"PK\\x03\\x04 half")
        handle.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    real(handle, **arrays)
ex.np.savez = savez
ex.extract_embeddings(sys.argv[1], sys.argv[2], sys.argv[3])
"""


@pytest.mark.slow
def test_resume_after_kill_9(
    attr_run: Path, synth_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = synth_root / "CelebA"
    out = tmp_path / "emb"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    proc = subprocess.run([sys.executable, "-c", _KILLER, str(attr_run), str(root), str(out)],
                          env=env, capture_output=True, timeout=120)  # fmt: skip
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    units = sorted(p.name for p in (out / extract_mod.WORK_DIR).glob("unit_*.npz"))
    assert units == ["unit_000000.npz", "unit_000001.npz"]  # the half-written one never landed
    monkeypatch.setattr(extract_mod, "UNIT_ROWS", 32)
    emb = extract_embeddings(attr_run, root, out)
    full = extract_embeddings(attr_run, root, tmp_path / "full")
    assert emb.fingerprint == full.fingerprint and len(emb) == 120


def test_corrupt_images_skipped_and_listed(
    attr_run: Path, celeba_copy: Path, tmp_path: Path
) -> None:
    from celebalab.datasets.table import load_table

    table = load_table(celeba_copy)
    bad = table["image_id"].iloc[3]
    (Path(table.attrs["image_dir"]) / bad).write_bytes(b"not a jpeg")
    emb = extract_embeddings(attr_run, celeba_copy, tmp_path / "emb")
    assert len(emb) == len(table) - 1 and bad not in emb.image_ids
    assert [s["image_id"] for s in emb.manifest["skipped"]] == [bad]
    assert "unreadable" in emb.manifest["skipped"][0]["reason"]


def test_lightning_engine_gives_the_same_set(
    attr_run: Path, synth_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = synth_root / "CelebA"
    monkeypatch.setattr(extract_mod, "UNIT_ROWS", 50)
    loop = extract_embeddings(attr_run, root, tmp_path / "a")
    light = extract_embeddings(attr_run, root, tmp_path / "b", engine="lightning")
    np.testing.assert_allclose(np.asarray(light.vectors), np.asarray(loop.vectors), atol=1e-6)
    assert light.image_ids == loop.image_ids


def test_cli_extract(attr_run: Path, synth_root: Path, tmp_path: Path) -> None:
    from celebalab.cli import main

    out = tmp_path / "emb"
    code = main(["embed", "extract", str(attr_run), str(synth_root / "CelebA"), "--out", str(out),
                 "--split", "val", "--no-progress"])  # fmt: skip
    assert code == 0 and (load_embeddings(out).meta["partition"] == 1).all()


@pytest.mark.parametrize(
    ("extra", "words"),
    [(["--batch-size", "0"], "--batch-size must be >= 1"), (["--devices", "0"], "--devices"),
     (["--split", "dev"], "--split must be one of"), (["--workers", "-1"], "--workers")],
)  # fmt: skip
def test_cli_options_are_checked_before_anything_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture, extra: list[str], words: str
) -> None:
    """embed extract's flags come from ExtractOptions: a bad one is one line, nothing written."""
    out = tmp_path / "e"
    err = refused_in_one_line(["embed", "extract", str(tmp_path / "run"), str(tmp_path), "--out",
                               str(out), *extra], capsys, words)  # fmt: skip
    assert "run" not in err.split(":", 1)[1] and not out.exists()  # refused before any reading
