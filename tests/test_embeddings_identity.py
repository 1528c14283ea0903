"""``celebalab train --task identity``: a self-describing face-recognition run, open-set
validation, embeddings through ``extract_features`` and ``embed extract``, clear data errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from celebalab.errors import CelebalabError


@pytest.fixture(scope="module")
def people_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """160 synthetic faces of about 40 people (4 each): several people in every split."""
    from celebalab.datasets.synth import generate

    out = tmp_path_factory.mktemp("people") / "out"
    return generate(out, 160, seed=1, n_hq=0, images_per_identity=4.0, workers=1).celeba_root


@pytest.fixture(scope="module")
def identity_run(people_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from celebalab.models import train

    out = tmp_path_factory.mktemp("idrun") / "run"
    train(people_root, out, task="identity", arch="small_cnn", size=32, epochs=2, batch_size=32,
          embedding_dim=16)  # fmt: skip
    return out


def test_run_describes_itself(identity_run: Path) -> None:
    from celebalab.models.run import read_run_config

    config = read_run_config(identity_run)
    assert config["task"] == "identity" and config["embedding_dim"] == 16
    assert config["attribute_names"] == [] and config["thresholds"] == {}
    loss = config["identity_loss"]
    assert loss["name"] == "arcface" and loss["margin"] == pytest.approx(0.5)
    val = config["metrics"]["val"]
    assert val["open_set"] is True
    for key in ("roc_auc", "eer", "map_at_r", "precision_at_1", "tar_at_far_0.01"):
        assert 0.0 <= val[key] <= 1.0


def test_extract_features_is_the_unit_embedding(identity_run: Path, people_root: Path) -> None:
    from celebalab.models.inference import extract_features, iter_split_batches, model_input
    from celebalab.models.run import load_run

    run = load_run(identity_run)
    batch = next(iter(iter_split_batches(run, people_root, "val", batch_size=8)))
    features = extract_features(run, batch.images)
    assert features.shape == (len(batch), 16)
    np.testing.assert_allclose(features.norm(dim=1).numpy(), 1.0, atol=1e-5)
    with torch.no_grad():
        raw = run.model(model_input(run, batch.images))
    np.testing.assert_allclose(features.numpy(), torch.nn.functional.normalize(raw).numpy(),
                               atol=1e-6)  # fmt: skip


def test_embed_extract_and_evaluate_an_identity_run(
    identity_run: Path, people_root: Path, tmp_path: Path
) -> None:
    from celebalab.embeddings.evaluate import evaluate_embeddings
    from celebalab.embeddings.extract import extract_embeddings

    emb = extract_embeddings(identity_run, people_root, tmp_path / "emb")
    assert emb.dim == 16 and emb.normalised and emb.probabilities() is None
    assert emb.manifest["source"]["task"] == "identity"
    result = evaluate_embeddings(emb, "test", pixel_size=16)
    assert {"embedding", "pixel PCA"} <= set(result.table.index)


def test_targets_number_only_training_people(people_root: Path) -> None:
    from celebalab.datasets.table import load_table
    from celebalab.models._identity import IdentityTask
    from celebalab.models.config import TrainConfig
    from celebalab.models.data import make_splits

    task = IdentityTask(TrainConfig(root=str(people_root), task="identity"))
    table = load_table(people_root)
    splits = make_splits(table, [], 0)
    targets = task.targets(table, splits)
    np.testing.assert_array_equal(targets[:, 1], table["identity"])
    train = splits.rows["train"]
    people = np.unique(table["identity"].to_numpy()[train])
    assert set(targets[train, 0]) == set(range(len(people)))
    assert (targets[splits.rows["val"], 0] == -1).all()
    same = targets[train, 1][:, None] == targets[train, 1][None, :]
    assert ((targets[train, 0][:, None] == targets[train, 0][None, :]) == same).all()


def test_no_identity_file_is_a_clear_error(people_root: Path, tmp_path: Path) -> None:
    from celebalab.models import train

    root = tmp_path / "CelebA"
    shutil.copytree(people_root, root, ignore=shutil.ignore_patterns(".celebalab_cache"))
    (root / "identity_CelebA.txt").unlink()
    with pytest.raises(CelebalabError, match="no identity file"):
        train(root, tmp_path / "run", task="identity", size=32, epochs=1)
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").iterdir())


def test_resume_continues_an_identity_run(people_root: Path, tmp_path: Path) -> None:
    from celebalab.models import train

    out = tmp_path / "run"
    first = train(people_root, out, task="identity", size=32, epochs=1, batch_size=32,
                  embedding_dim=8)  # fmt: skip
    longer = train(people_root, out, resume=True, epochs=2)
    assert first.training.epochs_run == 1 and longer.training.epochs_run == 2
    assert longer.embedding_dim == 8


def test_bad_identity_options() -> None:
    from celebalab.models.config import TrainConfig

    with pytest.raises(CelebalabError, match="embedding-dim"):
        TrainConfig(task="identity", embedding_dim=1)
    with pytest.raises(CelebalabError, match="identity-loss"):
        TrainConfig(task="identity", identity_loss="triplet")


@pytest.mark.slow
def test_demo_stage_end_to_end(people_root: Path, tmp_path: Path) -> None:
    from celebalab.demo._recognition import face_recognition_report, face_recognition_stage
    from celebalab.reports.html import Report
    from embedding_runs import make_attribute_run

    attr = make_attribute_run(tmp_path / "attr")
    stage = face_recognition_stage(people_root, tmp_path / "rec", attr, size=32, epochs=1,
                                   batch_size=32, embedding_dim=16, queries=2, k=3)  # fmt: skip
    assert list(stage.evaluation.table.index) == ["embedding", "pixel PCA",
                                                  "attribute probabilities"]  # fmt: skip
    assert [len(n) for n in stage.retrieval.neighbours] == [3, 3]
    assert (tmp_path / "rec" / "retrieval" / "grid.png").is_file()
    report = Report(title="t")
    report.extend(face_recognition_report(stage))
    html = report.render()
    assert "verification ROC" in html and "nearest faces" in html.lower()


def test_attribute_commands_refuse_an_identity_run(identity_run: Path, people_root: Path) -> None:
    from celebalab.models.evaluate import evaluate_run
    from celebalab.models.predict import predict_paths
    from celebalab.models.run import RunDirError

    with pytest.raises(RunDirError, match="embed extract"):
        evaluate_run(identity_run, split="val")
    with pytest.raises(RunDirError, match="predicts no attributes"):
        predict_paths(identity_run, [people_root / "img_align_celeba"])


def test_cli_train_identity(
    people_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from celebalab.cli import main

    code = main(["train", str(people_root), "--task", "identity", "--embedding-dim", "8",
                 "--identity-loss", "cosface", "--size", "32", "--epochs", "1", "--out",
                 str(tmp_path / "run"), "--no-progress"])  # fmt: skip
    assert code == 0
    assert "identity model (8-d" in capsys.readouterr().out
    assert main(["train", str(people_root), "--task", "identity", "--embedding-dim", "1",
                 "--out", str(tmp_path / "bad")]) == 2  # fmt: skip
