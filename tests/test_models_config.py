"""The typed training config and the one-line errors of every misused classifier option.

Each misuse goes through the real ``celebalab`` entry point (``celebalab.cli.main``), which must
print one ``error: …`` line naming the option and exit with status 2, and write nothing.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
import torch

from celebalab.cli import main
from celebalab.models._train import DEFAULTS
from celebalab.models.config import FIXED_ON_RESUME, TrainConfig, TrainConfigError
from model_runs import save_untrained_run

BAD_OPTIONS = [
    ("workers", -1, "--workers must be >= 0, got -1"),
    ("threads", 0, "--threads must be >= 1, got 0"),
    ("focal_gamma", -3.0, "--focal-gamma must be >= 0, got -3.0"),
    ("size", 8, "--size must be >= 16, got 8"),
    ("epochs", 0, "--epochs must be >= 1, got 0"),
    ("batch_size", 0, "--batch-size must be >= 1, got 0"),
    ("lr", 0.0, "--lr must be > 0, got 0.0"),
    ("patience", -1, "--patience must be >= 0, got -1"),
    ("checkpoint_every", 0, "--checkpoint-every must be >= 1, got 0"),
    ("loss", "hinge", "--loss must be one of bce, focal, not 'hinge'"),
    ("crop", "left", "--crop must be one of center, none, not 'left'"),
    ("threshold_metric", "auc", "--threshold-metric must be one of"),
    ("precision", "64", "--precision must be one of"),
    ("size", 32.5, "--size must be an integer, got 32.5"),
]


def test_config_is_frozen_keyword_only_and_round_trips(tmp_path: Path) -> None:
    config = TrainConfig(root="/data", epochs=3)
    assert config.to_dict() == {**DEFAULTS, "root": "/data", "epochs": 3}
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.epochs = 4  # type: ignore[misc]
    with pytest.raises(TypeError):
        TrainConfig("/data")  # type: ignore[misc]
    assert TrainConfig.load(config.save(tmp_path / "options.json")) == config
    assert config.replace(epochs=5).epochs == 5 and config.epochs == 3
    with pytest.raises(TrainConfigError, match="--epochs must be >= 1"):
        config.replace(epochs=0)
    (tmp_path / "bad.json").write_text(json.dumps({"epochs": 3, "colour": "red"}))
    with pytest.raises(TrainConfigError, match=r"bad\.json: unknown training option\(s\) colour"):
        TrainConfig.load(tmp_path / "bad.json")
    assert set(FIXED_ON_RESUME) <= set(DEFAULTS)


@pytest.mark.parametrize(("name", "value", "message"), BAD_OPTIONS)
def test_every_declared_constraint_names_the_option(name: str, value: object, message: str):
    with pytest.raises(TrainConfigError) as caught:
        TrainConfig(**{name: value})
    assert str(caught.value).startswith(message)


def _one_line_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    return err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workers", "-1"], "--workers must be >= 0, got -1"),
        (["--threads", "0"], "--threads must be >= 1, got 0"),
        (["--focal-gamma", "-3"], "--focal-gamma must be >= 0, got -3.0"),
        (["--arch", "resnet"], "did you mean"),
        (["--devices", "a,b"], "--devices must be a GPU count or ids"),
    ],
)
def test_train_misuse_is_one_line_and_writes_nothing(args, message, synth_root, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", str(synth_root / "CelebA"), "--out", str(out), "--no-progress", *args]
    assert message in _one_line_error(argv, capsys)
    assert not out.exists()


@pytest.fixture(scope="module")
def run_dir(synth_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained 32 px run over the synthetic CelebA (no packed cache: files are decoded)."""
    root = tmp_path_factory.mktemp("cfg") / "CelebA"
    shutil.copytree(synth_root / "CelebA", root, ignore=shutil.ignore_patterns(".celebalab_cache"))
    out = root.parent / "run"
    save_untrained_run(out, root)
    return out


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}  # fmt: skip


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--device", "foo"], "--device 'foo' is not a torch device"),
        (["--batch-size", "0"], "--batch-size must be >= 1, got 0"),
        (["--workers", "-2"], "--workers must be >= 0, got -2"),
        (["--split", "dev"], "--split must be one of train, val, test, all"),
    ]
    + ([] if torch.cuda.is_available() else [(["--device", "cuda"], "no CUDA GPU is visible")]),
)
def test_evaluate_misuse_is_one_line(args, message, run_dir, capsys):
    before = _snapshot(run_dir)
    assert message in _one_line_error(["evaluate", str(run_dir), *args], capsys)
    assert _snapshot(run_dir) == before


def test_second_evaluate_refuses_without_overwrite(run_dir, capsys):
    argv = ["evaluate", str(run_dir), "--split", "val", "--batch-size", "16"]
    assert main(argv) == 0
    capsys.readouterr()
    first = _snapshot(run_dir / "eval_val")
    assert "--overwrite" in _one_line_error(argv, capsys)
    assert _snapshot(run_dir / "eval_val") == first
    assert main([*argv, "--overwrite"]) == 0
    assert json.loads((run_dir / "eval_val" / "metrics.json").read_text())["split"] == "val"


def test_predict_misuse_is_one_line_and_never_overwrites(run_dir, synth_root, tmp_path, capsys):
    image = str(synth_root / "CelebA" / "img_align_celeba" / "000001.jpg")
    base = ["predict", str(run_dir), image]
    assert "is a folder" in _one_line_error([*base, "--json", str(tmp_path)], capsys)
    assert "--top must be >= 1, got -1" in _one_line_error([*base, "--top", "-1"], capsys)
    assert "--max-rows must be >= 0" in _one_line_error([*base, "--max-rows", "-1"], capsys)
    assert "--batch-size must be >= 1" in _one_line_error([*base, "--batch-size", "0"], capsys)
    existing = tmp_path / "preds.json"
    existing.write_text("earlier")
    assert "pass --overwrite" in _one_line_error([*base, "--json", str(existing)], capsys)
    assert existing.read_text() == "earlier"
    assert main([*base, "--json", str(existing), "--overwrite"]) == 0
    assert len(json.loads(existing.read_text())["images"]) == 1
