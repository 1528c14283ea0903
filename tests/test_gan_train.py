"""GAN training: exact resume (in process and after kill -9), run files, option checks."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from celebalab.errors import CelebalabError
from celebalab.generate._precision import cpu_has_bf16
from celebalab.generate.config import GanConfig
from celebalab.generate.run import CHECKPOINT, load_gan_run
from celebalab.generate.train import train_gan

#: 120 synthetic faces → 77 training images → 4 steps per epoch at batch 16.
TINY = {"size": 32, "batch_size": 16, "threads": 1, "progress": False, "grid_size": 16}


def _state(run: Path) -> dict:
    return torch.load(run / CHECKPOINT, map_location="cpu", weights_only=True)


def _assert_same_training_state(a: Path, b: Path) -> None:
    """Every tensor of both networks, the EMA, both optimisers; the loss history too."""
    first, second = _state(a), _state(b)
    for part in ("gen", "disc", "ema"):
        left, right = first["nets"][part], second["nets"][part]
        assert left.keys() == right.keys()
        for key in left:
            assert torch.equal(left[key], right[key]), f"{part}.{key} differs"
    for part in ("opt_g", "opt_d"):
        for slot, values in first["nets"][part]["state"].items():
            for key, tensor in values.items():
                assert torch.equal(tensor, second["nets"][part]["state"][slot][key]), part
    assert first["progress"]["losses"] == second["progress"]["losses"]
    assert first["progress"]["step"] == second["progress"]["step"]


@pytest.fixture(scope="module")
def uninterrupted(synth_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-epoch conditional run trained in one go: the reference for the resume tests."""
    out = tmp_path_factory.mktemp("gan") / "whole"
    config = GanConfig(epochs=2, conditional=("Smiling", "Male"), checkpoint_every=4, **TINY)
    train_gan(synth_root / "CelebA", out, config)
    return out


def test_resume_after_stop_reproduces_the_same_weights(
    synth_root: Path, uninterrupted: Path, tmp_path: Path
) -> None:
    out = tmp_path / "stopped"
    config = GanConfig(epochs=2, conditional=("Smiling", "Male"), checkpoint_every=4, **TINY)
    assert train_gan(synth_root / "CelebA", out, config, max_steps=5) is None
    assert not (out / "run.json").exists()
    assert _state(out)["progress"]["step"] == 5
    info = train_gan(synth_root / "CelebA", out, config, resume=True)
    assert info is not None and (out / "run.json").is_file()
    _assert_same_training_state(uninterrupted, out)
    whole = load_gan_run(uninterrupted).generator.state_dict()
    resumed = load_gan_run(out).generator.state_dict()
    assert all(torch.equal(whole[k], resumed[k]) for k in whole)


def test_run_directory_describes_itself(uninterrupted: Path) -> None:
    info = json.loads((uninterrupted / "run.json").read_text())
    steps = info["training"]["steps"]
    assert info["kind"] == "gan" and info["format_version"] == 1
    assert info["arch"] == "dcgan32_seed" and info["conditional"] == ["Smiling", "Male"]
    assert steps == 2 * (info["data"]["counts"]["train"] // 16)
    assert sorted(p.name for p in (uninterrupted / "grids").iterdir()) == [
        "epoch_001.png", "epoch_002.png",
    ]  # fmt: skip
    losses = (uninterrupted / "losses.csv").read_text().strip().splitlines()
    assert len(losses) == steps + 1 and losses[0] == "step,d_loss,g_loss,d_real,d_fake"
    assert "GAN loss curves" in (uninterrupted / "report.html").read_text()
    gan = load_gan_run(uninterrupted)
    assert not gan.generator.training and gan.image_size == 32
    # --precision auto is wired through to the run (the rule's branches: the test below).
    assert info["training"]["precision_used"] == ("bf16-mixed" if cpu_has_bf16() else "32")


def test_cpu_precision_follows_native_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    from celebalab.generate import _precision as precision

    cpu = torch.device("cpu")
    monkeypatch.setattr(precision, "cpu_has_bf16", lambda: True)
    used, note = precision.resolve_precision("auto", cpu)
    assert used == "bf16-mixed" and "--precision 32" in note
    assert precision.resolve_precision("32", cpu) == ("32", None)
    assert precision.resolve_precision("16-mixed", cpu)[0] == "32"
    with precision.autocast("bf16-mixed", cpu):
        assert torch.nn.Linear(4, 2)(torch.ones(1, 4)).dtype == torch.bfloat16
    monkeypatch.setattr(precision, "cpu_has_bf16", lambda: False)
    assert precision.resolve_precision("auto", cpu) == ("32", None)
    used, note = precision.resolve_precision("bf16-mixed", cpu)
    assert used == "32" and "no native bf16" in note


def test_refuses_to_mix_runs(synth_root: Path, uninterrupted: Path, tmp_path: Path) -> None:
    config = GanConfig(epochs=2, conditional=("Smiling", "Male"), **TINY)
    with pytest.raises(CelebalabError, match="not empty"):
        train_gan(synth_root / "CelebA", uninterrupted, config)
    with pytest.raises(CelebalabError, match="already finished"):
        train_gan(synth_root / "CelebA", uninterrupted, config, resume=True)
    other = GanConfig(epochs=3, conditional=("Smiling",), **TINY)
    with pytest.raises(CelebalabError, match="conditional"):
        train_gan(synth_root / "CelebA", uninterrupted, other, resume=True)
    with pytest.raises(CelebalabError, match="nothing to resume"):
        train_gan(synth_root / "CelebA", tmp_path / "new", config, resume=True)


def test_config_rejects_bad_options() -> None:
    from celebalab.generate._networks import ARCHITECTURES
    from celebalab.generate.config import SIZES

    assert tuple(sorted(ARCHITECTURES)) == SIZES  # the option accepts the sizes with a network
    with pytest.raises(CelebalabError, match="size"):
        GanConfig(size=48)
    with pytest.raises(CelebalabError, match="Smiling"):
        GanConfig(conditional=("Smilng",))
    with pytest.raises(CelebalabError, match="batch-size"):
        GanConfig(batch_size=0)


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "celebalab.cli", "gan", "train", *args]


@pytest.mark.slow
def test_kill_9_then_resume_gives_the_uninterrupted_weights(
    synth_root: Path, tmp_path: Path
) -> None:
    root = synth_root / "CelebA"
    common = ["--epochs", "5", "--batch-size", "16", "--threads", "1", "--checkpoint-every", "3",
              "--no-progress"]  # fmt: skip
    reference = tmp_path / "reference"
    settings = {**TINY, "grid_size": 64}  # the CLI's default grid
    train_gan(root, reference, GanConfig(epochs=5, checkpoint_every=3, **settings))
    killed = tmp_path / "killed"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(_cli(str(root), "--out", str(killed), *common), env=env)
    deadline = time.monotonic() + 120
    while not (killed / CHECKPOINT).exists():
        assert proc.poll() is None and time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (killed / "run.json").exists(), "the run finished before it could be killed"
    stopped_at = _state(killed)["progress"]["step"]
    assert 0 < stopped_at < _state(reference)["progress"]["step"]
    done = subprocess.run(_cli(str(root), "--out", str(killed), "--resume", "--no-progress"),
                          env=env, capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    _assert_same_training_state(reference, killed)
    grids = sorted(p.name for p in (killed / "grids").iterdir())
    assert grids == sorted(p.name for p in (reference / "grids").iterdir())
    for name in grids:
        expected = np.asarray(Image.open(reference / "grids" / name))
        np.testing.assert_array_equal(np.asarray(Image.open(killed / "grids" / name)), expected)


@pytest.mark.slow
def test_ddp_with_two_cpu_processes(synth_root: Path, tmp_path: Path) -> None:
    """torchrun, 2 Gloo processes: each trains its shard of the batches, rank 0 writes; the
    processes vote on the time budget every step (not reached here)."""
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
           "--master_port", "29517", "-m", "celebalab.cli", "gan", "train",
           str(synth_root / "CelebA"), "--out", str(out), "--epochs", "1", "--batch-size", "8",
           "--threads", "1", "--no-progress", "--minutes", "10"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ})
    assert done.returncode == 0, done.stderr[-2000:]
    info = json.loads((out / "run.json").read_text())
    assert info["training"]["world_size"] == 2
    assert info["training"]["steps"] == info["data"]["counts"]["train"] // (8 * 2)
    assert done.stdout.count("report.html") == 1  # only rank 0 reports


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--conditional", ""], "--conditional"),
        (["--conditional", " , "], "--conditional"),
        (["--threads", "0"], "--threads"),
        (["--max-steps", "0"], "--max-steps"),
        (["--max-steps", "-1"], "--max-steps"),
        (["--augment", ""], "--augment"),
        (["--minutes", "0"], "--minutes"),
    ],
)
def test_train_refuses_empty_or_zero_options_before_work(
    tmp_path: Path, capsys: pytest.CaptureFixture, args: list[str], expected: str
) -> None:
    from celebalab.cli import main

    out = tmp_path / "run"
    assert main(["gan", "train", str(tmp_path / "nodata"), "--out", str(out), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {expected}") and "\n" not in err, err
    assert not out.exists()


#: The recipe options on: DiffAugment (all three families), hinge loss, spectral norm in D.
RECIPE = {"augment": ("color", "translation", "cutout"), "loss": "hinge", "spectral_norm": True}


def test_resume_is_exact_with_augmentation_and_spectral_norm(
    synth_root: Path, tmp_path: Path
) -> None:
    config = GanConfig(epochs=2, checkpoint_every=3, **TINY, **RECIPE)
    whole, stopped = tmp_path / "whole", tmp_path / "stopped"
    train_gan(synth_root / "CelebA", whole, config)
    assert train_gan(synth_root / "CelebA", stopped, config, max_steps=5) is None
    torch.manual_seed(12345)  # the global generator's state must not matter on resume
    train_gan(synth_root / "CelebA", stopped, config, resume=True)
    _assert_same_training_state(whole, stopped)
    info = json.loads((whole / "run.json").read_text())
    assert info["config"]["augment"] == ["color", "translation", "cutout"]
    assert info["config"]["spectral_norm"] is True and info["config"]["loss"] == "hinge"
    assert info["training"]["stopped_by"] == "epochs"


def test_runs_saved_before_the_recipe_options_resume_without_them() -> None:
    from celebalab.generate.config import BEFORE_OPTION

    old = {k: v for k, v in GanConfig(**TINY).to_dict().items() if k not in BEFORE_OPTION}
    restored = GanConfig.from_dict(old)
    assert restored.augment == () and restored.spectral_norm is False
    with pytest.raises(CelebalabError, match="augmentation"):
        GanConfig(augment=("colour",))


def test_time_budget_ends_the_run_finished_and_resume_goes_on(
    synth_root: Path, tmp_path: Path
) -> None:
    out = tmp_path / "budget"
    config = GanConfig(epochs=2, **TINY)
    ticks = itertools.count()  # a clock that moves one "second" per reading: once per step
    info = train_gan(synth_root / "CelebA", out, config, max_seconds=3, clock=lambda: next(ticks))
    assert info.training.stopped_by == "time budget" and info.training.steps == 3
    assert load_gan_run(out).record == info  # finished: sample and evaluate read it
    info = train_gan(synth_root / "CelebA", out, config, resume=True)
    assert info.training.stopped_by == "epochs"
    assert info.training.steps == 2 * (info.data.counts["train"] // 16)
    with pytest.raises(CelebalabError, match="--minutes"):
        train_gan(synth_root / "CelebA", tmp_path / "none", config, max_seconds=0)
