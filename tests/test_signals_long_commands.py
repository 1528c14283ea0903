"""SIGTERM / SIGINT stop ``embed extract``, ``explain``, ``gan train`` and ``data pack`` mid-work
within seconds: exit 143 / 130, one line saying how to resume, no traceback; the printed command
then finishes the work, with the result of an uninterrupted run (``train`` and ``data synth`` are
tested beside their other tests)."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from celeba_trees import celeba_truth, official_texts
from embedding_runs import make_attribute_run
from signals import SRC, Stopped, stop_when

pytestmark = pytest.mark.slow

ADVICE = "the work done is kept; to resume, run: celebalab "


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # inherited by the commands' subprocesses


def _resume_args(stopped: Stopped, signum: int, args: Sequence[str]) -> list[str]:
    """The one line a stopped command printed, checked; the arguments it says to run."""
    name = signal.Signals(signum).name
    assert stopped.returncode == 128 + signum, stopped.stderr[-2000:]
    assert stopped.seconds < 10, stopped.seconds
    assert "Traceback" not in stopped.stderr, stopped.stderr[-2000:]
    advice = [line for line in stopped.stderr.splitlines() if ADVICE in line]
    assert len(advice) == 1, stopped.stderr[-2000:]
    assert stopped.stderr.strip().splitlines()[-1] == advice[0]
    said, command = advice[0].split(ADVICE)
    assert said == f"stopped by {name}; "
    words = shlex.split(command)
    assert words[: len(args)] == list(args)
    return words


def _stop_patched(
    prelude: str, args: Sequence[str], ready: Callable[[], bool], signum: int
) -> Stopped:
    """:func:`signals.stop_when` for ``celebalab ARGS`` run after the Python ``prelude``."""
    code = f"import sys\n{prelude}\nfrom celebalab.cli import main\nsys.exit(main(sys.argv[1:]))"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    command = [sys.executable, "-c", code, *args]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 300
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"never ready to be stopped: {process.communicate()[1][-2000:]}")
        time.sleep(0.05)
    process.send_signal(signum)
    sent = time.monotonic()
    _, err = process.communicate(timeout=120)
    return Stopped(process.returncode, err, time.monotonic() - sent)


# ---------------------------------------------------------------- embed extract

EXTRACT_UNIT_ROWS = 8  # 120 images: 15 units


def test_sigterm_stops_embed_extract_and_the_same_command_finishes_it(
    synth_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from celebalab.cli import main
    from celebalab.embeddings import extract as extract_mod
    from celebalab.embeddings.store import load_embeddings

    run = make_attribute_run(tmp_path / "run")
    root = synth_root / "CelebA"
    out = tmp_path / "emb"
    args = ["embed", "extract", str(run), str(root), "--out", str(out), "--batch-size", "4",
            "--workers", "0", "--no-progress"]  # fmt: skip
    work = out / ".work"
    stopped = _stop_patched(
        f"import celebalab.embeddings.extract as e; e.UNIT_ROWS = {EXTRACT_UNIT_ROWS}",
        args,
        ready=lambda: len(list(work.glob("unit_*.npz"))) >= 2,
        signum=signal.SIGTERM,
    )
    assert _resume_args(stopped, signal.SIGTERM, args) == args
    done = len(list(work.glob("unit_*.npz")))
    assert 2 <= done < -(-120 // EXTRACT_UNIT_ROWS), "the extraction finished before the signal"
    assert not (out / "manifest.json").exists()

    monkeypatch.setattr(extract_mod, "UNIT_ROWS", EXTRACT_UNIT_ROWS)
    assert main(args) == 0
    assert not work.exists()
    reference = tmp_path / "reference"
    assert main([*args[:4], "--out", str(reference), *args[6:]]) == 0
    resumed, whole = load_embeddings(out), load_embeddings(reference)
    assert list(resumed.meta["image_id"]) == list(whole.meta["image_id"])
    np.testing.assert_array_equal(np.asarray(resumed.vectors), np.asarray(whole.vectors))


# ---------------------------------------------------------------- explain

EXPLAIN = ["--attributes", "Smiling,Male,Young,Big_Nose", "--methods", "saliency,random",
           "--n", "12", "--batch-size", "4", "--samples", "0", "--fr-draws", "2",
           "--curve-steps", "2", "--no-progress"]  # fmt: skip


def _per_image(out: Path) -> pd.DataFrame:
    frame = pd.read_parquet(out / "per_image.parquet")
    return frame.drop(columns=[c for c in frame.columns if "second" in c])  # timings differ


def test_sigint_stops_explain_and_the_same_command_finishes_it(
    synth_root: Path, tmp_path: Path
) -> None:
    from celebalab.cli import main

    run = make_attribute_run(tmp_path / "run")
    root = synth_root / "CelebA"
    out = tmp_path / "explain"
    args = ["explain", str(run), str(root), "--out", str(out), *EXPLAIN]
    checkpoints = out / ".checkpoints"
    stopped = stop_when(
        args, ready=lambda: len(list(checkpoints.glob("*.parquet"))) >= 2, signum=signal.SIGINT
    )
    assert _resume_args(stopped, signal.SIGINT, args) == args
    assert 2 <= len(list(checkpoints.glob("*.parquet"))) < 8, "explain finished before the signal"
    assert not (out / "results.json").exists()

    assert main(args) == 0
    reference = tmp_path / "reference"
    assert main(["explain", str(run), str(root), "--out", str(reference), *EXPLAIN]) == 0
    pd.testing.assert_frame_equal(_per_image(out), _per_image(reference))


# ---------------------------------------------------------------- gan train

GAN = ["--epochs", "5", "--batch-size", "16", "--size", "32", "--threads", "1",
       "--checkpoint-every", "3", "--grid-size", "16", "--no-progress"]  # fmt: skip


def test_sigterm_stops_gan_training_and_resume_gives_the_uninterrupted_weights(
    synth_root: Path, tmp_path: Path
) -> None:
    from celebalab.cli import main
    from celebalab.generate.config import GanConfig
    from celebalab.generate.run import CHECKPOINT, load_gan_run
    from celebalab.generate.train import train_gan

    root = synth_root / "CelebA"
    out = tmp_path / "stopped"
    args = ["gan", "train", str(root), "--out", str(out), *GAN]
    stopped = stop_when(args, ready=(out / CHECKPOINT).exists, signum=signal.SIGTERM)
    again = _resume_args(stopped, signal.SIGTERM, args)
    assert again == [*args, "--resume"]
    assert not (out / "run.json").exists(), "the run finished before the signal"
    step = torch.load(out / CHECKPOINT, map_location="cpu", weights_only=True)["progress"]["step"]
    assert 0 < step < 20  # 77 training images, batch 16: 4 steps an epoch

    assert main(again) == 0
    reference = tmp_path / "reference"
    config = GanConfig(epochs=5, batch_size=16, size=32, threads=1, checkpoint_every=3,
                       grid_size=16, progress=False)  # fmt: skip
    train_gan(root, reference, config)
    whole = load_gan_run(reference).generator.state_dict()
    resumed = load_gan_run(out).generator.state_dict()
    assert whole.keys() == resumed.keys()
    for key in whole:
        assert torch.equal(whole[key], resumed[key]), key


# ---------------------------------------------------------------- data pack

PACK_N = 3000


@pytest.fixture(scope="module")
def many_images(synth_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An official-layout CelebA of 3,000 rows whose images are links to the synthetic faces."""
    root = tmp_path_factory.mktemp("pack") / "CelebA"
    root.mkdir()
    for name, text in official_texts(celeba_truth(PACK_N)).items():
        (root / name).write_bytes(text.encode())
    faces = sorted((synth_root / "CelebA" / "img_align_celeba").glob("*.jpg"))
    images = root / "img_align_celeba"
    images.mkdir()
    for i in range(PACK_N):
        os.link(faces[i % len(faces)], images / f"{i + 1:06d}.jpg")
    return root


@pytest.mark.parametrize("workers", ["1", "2"])
def test_sigterm_stops_data_pack_and_the_same_command_finishes_it(
    many_images: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: str
) -> None:
    from celebalab.cli import main
    from celebalab.datasets.packfiles import PackPaths

    monkeypatch.setenv("CELEBALAB_CACHE", str(tmp_path / "cache"))
    args = ["data", "pack", str(many_images), "--size", "96", "--workers", workers]
    paths = PackPaths.of(many_images, 96, "center")

    def chunks_done() -> int:
        return len(paths.progress.read_text().splitlines()) - 1 if paths.progress.exists() else 0

    stopped = stop_when(args, ready=lambda: chunks_done() >= 3, signum=signal.SIGTERM)
    assert _resume_args(stopped, signal.SIGTERM, args) == args
    assert not paths.manifest.exists(), "the pack finished before the signal"
    assert 3 <= chunks_done() < 64

    assert main(args) == 0
    assert paths.manifest.is_file() and not paths.progress.exists()
    monkeypatch.setenv("CELEBALAB_CACHE", str(tmp_path / "reference"))
    assert main(args) == 0
    reference = PackPaths.of(many_images, 96, "center")
    assert reference.data != paths.data
    assert paths.data.read_bytes() == reference.data.read_bytes()
    index = pd.read_parquet(paths.index)
    pd.testing.assert_frame_equal(index, pd.read_parquet(reference.index))
    assert len(index) == PACK_N and index["valid"].all()
