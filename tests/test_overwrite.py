"""``--overwrite`` of every command that writes a run folder (:mod:`celebalab.rundir`): an
unrelated file in ``--out`` survives it, the earlier run's own (and derived) files are replaced,
and a failed overwrite leaves the earlier run intact and loadable.

``stats`` and ``model import`` have the same two tests beside their others
(``test_stats_outputs.py``, ``test_imported_models.py``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from embedding_runs import make_attribute_run


def _mine(out: Path, derived: str | None = None) -> None:
    """An unrelated file and, for runs that have them, an output ``derived`` from the earlier
    run (an evaluation: stale once the run is replaced)."""
    (out / "notes.txt").write_text("my notes")
    if derived:
        (out / derived).mkdir()


def _broken(*args: object, **kwargs: object) -> None:
    raise RuntimeError("disk full")


def _siblings(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}"))


@pytest.fixture(scope="module")
def attr_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_attribute_run(tmp_path_factory.mktemp("run") / "run")


def test_explain(attr_run: Path, synth_root: Path, tmp_path: Path, monkeypatch) -> None:
    from celebalab.explain import ExplainConfig, run_explain

    root, out = synth_root / "CelebA", tmp_path / "explain"
    first = ExplainConfig(methods=("center",), attributes=("Smiling",), n=2, samples=1)
    run_explain(attr_run, root, out, config=first)
    before = (out / "results.json").read_bytes()
    _mine(out)
    second = ExplainConfig(methods=("center", "random"), attributes=("Smiling",), n=2, samples=1)
    monkeypatch.setattr("celebalab.explain.report.write_report", _broken)
    with pytest.raises(RuntimeError, match="disk full"):
        run_explain(attr_run, root, out, config=second, overwrite=True)
    assert (out / "results.json").read_bytes() == before and (out / "notes.txt").exists()
    assert _siblings(out) == [".explain.overwrite"]  # its checkpoints: the rerun resumes them
    monkeypatch.undo()
    run_explain(attr_run, root, out, config=second, overwrite=True)
    assert set(json.loads((out / "results.json").read_text())["methods"]) == {"center", "random"}
    assert (out / "notes.txt").read_text() == "my notes" and _siblings(out) == []


def test_embed_extract(attr_run: Path, synth_root: Path, tmp_path: Path, monkeypatch) -> None:
    from celebalab.embeddings import extract as extract_mod
    from celebalab.embeddings import load_embeddings

    root, out = synth_root / "CelebA", tmp_path / "emb"
    before = extract_mod.extract_embeddings(attr_run, root, out, split="val")
    _mine(out, "eval_val")
    monkeypatch.setattr(extract_mod, "write_embedding_set", _broken)
    with pytest.raises(RuntimeError, match="disk full"):
        extract_mod.extract_embeddings(attr_run, root, out, split="test", overwrite=True)
    assert load_embeddings(out).fingerprint == before.fingerprint
    assert (out / "eval_val").is_dir() and _siblings(out) == [".emb.overwrite"]
    monkeypatch.undo()
    emb = extract_mod.extract_embeddings(attr_run, root, out, split="test", overwrite=True)
    assert (emb.meta["partition"] == 2).all() and emb.path == out
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "meta.parquet", "notes.txt",
                                                     "vectors.f32"]  # fmt: skip
    assert _siblings(out) == []


def test_embed_import(tmp_path: Path, monkeypatch) -> None:
    from celebalab.embeddings import importers, load_embeddings
    from test_embeddings_import import vis_frame, write_csv

    out = tmp_path / "emb"
    before = importers.import_celeba_vis_csv(write_csv(tmp_path / "a.csv", vis_frame()), out)
    _mine(out, "eval_test")
    other = write_csv(tmp_path / "b.csv", vis_frame(3))
    monkeypatch.setattr(importers, "write_embedding_set", _broken)
    with pytest.raises(RuntimeError, match="disk full"):
        importers.import_celeba_vis_csv(other, out, overwrite=True)
    assert load_embeddings(out).fingerprint == before.fingerprint and _siblings(out) == []
    monkeypatch.undo()
    after = importers.import_celeba_vis_csv(other, out, overwrite=True)
    assert after.fingerprint != before.fingerprint and (out / "notes.txt").exists()
    assert not (out / "eval_test").exists() and _siblings(out) == []


def test_train(synth_root: Path, tmp_path: Path, monkeypatch) -> None:
    from celebalab.models import _finish as finish
    from celebalab.models import load_run, train

    root, out = synth_root / "CelebA", tmp_path / "run"
    tiny = {"size": 16, "epochs": 1, "batch_size": 32, "threads": 1}
    first = train(root, out, **tiny)
    _mine(out, "eval_test")
    monkeypatch.setattr(finish, "finish_run", _broken)
    with pytest.raises(RuntimeError, match="disk full"):
        train(root, out, overwrite=True, seed=1, **tiny)
    assert load_run(out).record == first and (out / "eval_test").is_dir()
    assert _siblings(out) == [".run.overwrite"]  # trained, unfinished: --resume finishes it
    monkeypatch.undo()
    second = train(root, out, resume=True, **tiny)
    assert second.train_config.seed == 1 and load_run(out).record == second
    assert (out / "notes.txt").exists() and not (out / "eval_test").exists()
    assert _siblings(out) == []


def test_gan_train(synth_root: Path, tmp_path: Path, monkeypatch) -> None:
    from celebalab.generate.config import GanConfig
    from celebalab.generate.run import load_gan_run
    from celebalab.generate.train import train_gan

    root, out = synth_root / "CelebA", tmp_path / "gan"
    tiny = {"size": 32, "epochs": 1, "batch_size": 16, "threads": 1, "progress": False,
            "grid_size": 16}  # fmt: skip
    train_gan(root, out, GanConfig(**tiny))
    weights = (out / "generator.pt").read_bytes()
    _mine(out, "eval")
    monkeypatch.setattr("celebalab.generate._report.training_report", _broken)
    with pytest.raises(RuntimeError, match="disk full"):
        train_gan(root, out, GanConfig(seed=1, **tiny), overwrite=True)
    assert (out / "generator.pt").read_bytes() == weights and load_gan_run(out) is not None
    assert (out / "eval").is_dir() and _siblings(out) == [".gan.overwrite"]
    monkeypatch.undo()
    train_gan(root, out, GanConfig(seed=1, **tiny), overwrite=True)  # starts afresh
    assert (out / "generator.pt").read_bytes() != weights
    assert (out / "notes.txt").exists() and not (out / "eval").exists()
    assert _siblings(out) == []
