"""End-to-end tests of ``celebalab train`` on a tiny official-layout CelebA copy.

Two attributes are drawn into the images (Eyeglasses: a dark band across the eyes; Wearing_Hat:
a red cap); the other 38 labels are random. The classifier must learn the drawn ones, an
interrupted run must resume to bit-identical weights, and bad input must fail cleanly.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
import typer
from PIL import Image
from sklearn.metrics import balanced_accuracy_score
from typer.testing import CliRunner

from celeba_trees import celeba_truth, official_texts
from celebalab import _progress
from celebalab.errors import CelebalabError, OptionError
from celebalab.models._train import TrainError, train
from celebalab.models.cli import register
from celebalab.models.inference import predict_proba
from celebalab.models.run import load_run
from signals import stop_when

DRAWN = ("Eyeglasses", "Wearing_Hat")
N_IMAGES = 300
# One thread: fastest when the test machine's cores are shared with other jobs.
OPTIONS = {"epochs": 3, "batch_size": 20, "size": 32, "checkpoint_every": 4, "threads": 1}
STEPS_PER_EPOCH = 9  # 180 training images / 20


def _write_root(root: Path, partition: bool = True, absent: str | None = None) -> Path:
    """The tiny tree; ``absent`` names an attribute that no image has."""
    root.mkdir(parents=True, exist_ok=True)
    truth = celeba_truth(N_IMAGES, seed=1)
    rng = np.random.default_rng(2)
    for name in DRAWN:
        truth[name] = (rng.random(N_IMAGES) < 0.35).astype(np.uint8)
    if absent:
        truth[absent] = 0
    for name, text in official_texts(truth).items():
        if partition or "partition" not in name:
            (root / name).write_bytes(text.encode())
    folder = root / "img_align_celeba"
    folder.mkdir(parents=True)
    for _, row in truth.iterrows():
        face = rng.integers(110, 150, (218, 178, 3), dtype=np.uint8)
        if row["Eyeglasses"]:
            face[95:115, 25:155] = 15
        if row["Wearing_Hat"]:
            face[20:60, 20:160] = (210, 30, 30)
        Image.fromarray(face).save(folder / row["image_id"], quality=92)
    return root


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return _write_root(tmp_path_factory.mktemp("celeba"))


@pytest.fixture(scope="module")
def trained(root, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("runs") / "full"
    return out, train(root, out, **OPTIONS)


@pytest.mark.slow
def test_train_writes_a_self_describing_run_that_learned_drawn_attributes(root, trained):
    out, result = trained
    run = load_run(out)
    assert run.config == json.loads((out / "run.json").read_text())
    assert run.record == result  # the record train returns is what run.json holds
    assert run.attribute_names == list(result.attribute_names) and len(run.attribute_names) == 40
    assert result.data.counts == {"train": 180, "val": 60, "test": 60}
    assert result.data.source == "packed" and len(result.data.fingerprint) == 64
    assert result.training.global_step == 3 * STEPS_PER_EPOCH
    assert (out / "metrics.csv").is_file() and (out / "checkpoints" / "last.ckpt").is_file()
    # Recompute validation balanced accuracy independently, from the run alone.
    from celebalab.datasets.packed import PackedImages
    from celebalab.datasets.table import load_table

    table = load_table(root)
    val = table[table["partition"] == 1]
    packed = PackedImages.open(root, 32)
    images = packed.images[[packed.row_of(i) for i in val["image_id"]]]
    pred = predict_proba(run, images) >= run.thresholds
    for name in DRAWN:
        a = run.attribute_names.index(name)
        score = balanced_accuracy_score(val[name], pred[:, a])
        stored = result.val_metrics["per_attribute"][name]["balanced_accuracy"]
        assert score == pytest.approx(stored)
        assert score > 0.85, (name, score)


_KILLER = """
import os, sys
import lightning.pytorch as pl
from celebalab.models import train

class Die(pl.Callback):
    def on_train_batch_end(self, trainer, *args):
        if trainer.global_step == {die_at}:
            os._exit(3)  # like SIGKILL: no cleanup, no final checkpoint

train(sys.argv[1], sys.argv[2], callbacks=[Die()], **{options})
"""


def _train_and_kill(root: Path, out: Path, die_at: int) -> None:
    """Train into ``out`` in a subprocess that dies (like SIGKILL) after step ``die_at``."""
    script = textwrap.dedent(_KILLER.format(die_at=die_at, options=OPTIONS))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    killed = subprocess.run(
        [sys.executable, "-c", script, str(root), str(out)], env=env, capture_output=True
    )
    assert killed.returncode == 3, killed.stderr.decode()[-2000:]
    assert not (out / "run.json").exists()  # unfinished: nothing claims to be a model


def _assert_same_model(out: Path, reference: Path) -> None:
    ref = torch.load(reference / "model.pt")
    got = torch.load(out / "model.pt")
    assert list(got) == list(ref)
    unequal = [key for key, value in ref.items() if not torch.equal(got[key], value)]
    assert not unequal, f"{len(unequal)} of {len(ref)} tensors differ: {unequal[:3]}"
    assert load_run(out).thresholds.tolist() == load_run(reference).thresholds.tolist()


@pytest.mark.slow
def test_killed_mid_epoch_then_resumed_equals_an_uninterrupted_run(root, trained, tmp_path):
    out = tmp_path / "run"
    _train_and_kill(root, out, STEPS_PER_EPOCH + 6)
    with pytest.raises(OptionError, match="not empty; use --resume"):
        train(root, out, **OPTIONS)
    # Killed in epoch 2 after its 6th batch (step 15): step.ckpt holds step 12, mid-epoch.
    result = train(root, out, resume=True, **OPTIONS)
    assert result.training.global_step == 3 * STEPS_PER_EPOCH
    assert result.training.epochs_run == 3
    _assert_same_model(out, trained[0])
    assert result.train_config.to_dict() == json.loads((out / "train_options.json").read_text())


@pytest.mark.slow
def test_run_moved_after_an_interruption_resumes_exactly(root, trained, tmp_path):
    first = tmp_path / "first"
    _train_and_kill(root, first, 2 * STEPS_PER_EPOCH + 2)  # after two epochs: a best exists
    moved = tmp_path / "elsewhere" / "moved"
    moved.parent.mkdir()
    shutil.move(first, moved)
    result = train(root, moved, resume=True, **OPTIONS)
    assert result.training.best_checkpoint == trained[1].training.best_checkpoint
    assert (moved / "checkpoints" / result.training.best_checkpoint).is_file()
    _assert_same_model(moved, trained[0])


@pytest.mark.slow
def test_corrupt_checkpoint_and_conflicting_resume_fail_clearly(root, trained, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "train_options.json").write_text(
        (trained[0] / "train_options.json").read_text(encoding="utf-8")
    )
    (out / "checkpoints").mkdir()
    (out / "checkpoints" / "last.ckpt").write_bytes(b"garbage")
    with pytest.raises(TrainError, match=r"last\.ckpt: corrupt checkpoint"):
        train(root, out, resume=True, **OPTIONS)
    with pytest.raises(TrainError, match="started with arch='small_cnn'"):
        train(root, out, resume=True, **{**OPTIONS, "arch": "resnet18"})
    assert (out / "checkpoints" / "last.ckpt").read_bytes() == b"garbage"  # untouched


def _cli(*args: str):
    app = typer.Typer()
    register(app)
    app.command("noop", hidden=True)(lambda: None)  # keep sub-command parsing with one command
    return CliRunner().invoke(app, ["train", *args])


def test_cli_rejects_unknown_attribute_with_a_suggestion(root, tmp_path):
    result = _cli(str(root), "--task", "smiling", "--out", str(tmp_path / "r"))
    assert isinstance(result.exception, CelebalabError)
    assert "did you mean 'Smiling'" in str(result.exception)
    assert not (tmp_path / "r").exists()


def test_wrong_root_and_bad_options_fail_before_writing(tmp_path):
    with pytest.raises(CelebalabError):
        train(tmp_path / "nowhere", tmp_path / "r")
    with pytest.raises(CelebalabError, match="did you mean"):
        train(tmp_path, tmp_path / "r2", arch="mobilenet")
    assert not (tmp_path / "r2").exists()


@pytest.mark.slow
def test_missing_partition_file_falls_back_to_a_seeded_split(tmp_path, capsys):
    root = _write_root(tmp_path / "celeba", partition=False)
    options = {**OPTIONS, "epochs": 1, "size": 16}
    with _progress.shown(True, bars=False):  # the demo's progress: one line per epoch
        result = train(root, tmp_path / "run", task="Eyeglasses", **options)
    assert result.attribute_names == ("Eyeglasses",)
    assert result.data.partition_source.startswith("seeded_split")
    assert sum(result.data.counts.values()) == N_IMAGES
    err = capsys.readouterr().err
    assert "no partition file" in err
    assert re.search(r"^epoch 1/1: train_loss \d\.\d{4}, val_loss \d\.\d{4}", err, re.M), err


@pytest.mark.slow
def test_finished_run_resumes_only_to_train_longer_and_keeps_its_log(root, trained, tmp_path):
    import pandas as pd

    out = tmp_path / "run"
    shutil.copytree(trained[0], out)
    last = torch.load(out / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert last["global_step"] == 3 * STEPS_PER_EPOCH  # the last epoch, best or not
    before = (out / "run.json").read_bytes()
    with pytest.raises(TrainError, match="already finished"):
        train(root, out, resume=True, **OPTIONS)
    with pytest.raises(CelebalabError, match="did you mean"):
        train(root, out, overwrite=True, **{**OPTIONS, "task": "smiling"})
    assert (out / "run.json").read_bytes() == before  # a failed call overwrote nothing
    result = train(root, out, resume=True, **{**OPTIONS, "epochs": 4})
    assert result.training.global_step == 4 * STEPS_PER_EPOCH
    logged = pd.read_csv(out / "metrics.csv")
    assert sorted(logged["epoch"].unique()) == [0, 1, 2, 3]  # epochs before the resume kept


def test_single_class_task_is_refused_before_anything_is_written(tmp_path):
    root = _write_root(tmp_path / "celeba", absent="Bald")
    out = tmp_path / "run"
    with pytest.raises(CelebalabError, match=r"--task Bald: the training split has no positive"):
        train(root, out, task="Bald", **OPTIONS)
    assert not out.exists()
    assert not (root / ".celebalab_cache").exists() or not any(
        p.name.startswith("packed") for p in (root / ".celebalab_cache").iterdir()
    )


@pytest.mark.slow
def test_no_pack_training_skips_and_lists_corrupt_images(root, tmp_path, capsys):
    copy = tmp_path / "celeba"
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns(".celebalab_cache"))
    (copy / "img_align_celeba" / "000003.jpg").write_bytes(b"\xff\xd8\xff truncated")
    (copy / "img_align_celeba" / "000005.jpg").unlink()
    options = {**OPTIONS, "epochs": 1, "size": 16}
    result = train(copy, tmp_path / "run", pack=False, workers=0, **options)
    skipped = {s["image_id"]: s["reason"] for s in result.data.skipped_images}
    assert sorted(skipped) == ["000003.jpg"]  # unreadable; the missing one is counted apart
    missing = result.data.missing_images
    assert missing["count"] == 1 and Path(missing["list"]).read_text() == "000005.jpg\n"
    assert result.data.source == "files"
    assert sum(result.data.counts.values()) == N_IMAGES - 2
    err = capsys.readouterr().err
    assert "skipped 000003.jpg" in err and "Traceback" not in err
    assert f"{N_IMAGES - 1} of {N_IMAGES} images present; 1 missing (listed in" in err


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_training_with_a_resume_line_then_resumes_exactly(
    root, trained, tmp_path, signum
):
    out = tmp_path / "run"
    options = "--epochs 3 --batch-size 20 --size 32 --checkpoint-every 4 --threads 1 --no-progress"
    args = ["train", str(root), "--out", str(out), *options.split()]
    step = out / "checkpoints" / "step.ckpt"
    stopped = stop_when(args, ready=step.exists, signum=signum)
    assert stopped.returncode == 128 + signum, stopped.stderr[-2000:]
    assert stopped.seconds < 10
    *_, last = stopped.stderr.strip().splitlines()
    name = signal.Signals(signum).name
    assert last.startswith(f"stopped by {name}; the work done is kept; to resume, run: celebalab ")
    assert last.endswith(" --resume") and "Traceback" not in stopped.stderr
    assert not (out / "run.json").exists()
    result = train(root, out, resume=True, **OPTIONS)
    assert result.training.global_step == 3 * STEPS_PER_EPOCH
    _assert_same_model(out, trained[0])
