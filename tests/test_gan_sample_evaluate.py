"""GAN sampling (deterministic, conditioned, files) and evaluation (metrics, floor, errors)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from celebalab.cli import main
from celebalab.errors import CelebalabError
from celebalab.generate._metrics import frechet_distance
from celebalab.generate._monitor import collapse_warnings
from celebalab.generate.config import GanConfig
from celebalab.generate.evaluate import evaluate_gan
from celebalab.generate.options import parse_attrs
from celebalab.generate.run import load_gan_run
from celebalab.generate.sample import sample_images
from celebalab.generate.train import train_gan


@pytest.fixture(scope="module")
def gan_run(synth_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1-epoch conditional (Smiling, Eyeglasses) run at 32 px."""
    out = tmp_path_factory.mktemp("gan") / "run"
    config = GanConfig(epochs=1, batch_size=16, conditional=("Smiling", "Eyeglasses"),
                       threads=1, progress=False)  # fmt: skip
    train_gan(synth_root / "CelebA", out, config)
    return out


@pytest.fixture(scope="module")
def classifier_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small_cnn classifier run at 32 px (untrained weights: the metric wiring is the point)."""
    from celebalab.datasets.schema import ATTRIBUTE_NAMES
    from celebalab.models.architectures import IMAGENET_MEAN, IMAGENET_STD, build_model
    from celebalab.models.run import save_run

    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("cls") / "run"
    config = {
        "arch": "small_cnn", "task": "attributes", "attribute_names": list(ATTRIBUTE_NAMES),
        "image_size": 48, "crop": "center",
        "normalisation": {"mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD), "scale": 255},
        "thresholds": dict.fromkeys(ATTRIBUTE_NAMES, 0.5), "data": {"root": ""},
    }  # fmt: skip
    save_run(out, build_model("small_cnn", len(ATTRIBUTE_NAMES)).eval(), config)
    return out


def test_sampling_is_deterministic_and_honours_attributes(gan_run: Path) -> None:
    gan = load_gan_run(gan_run)
    first = sample_images(gan, 10, seed=3, attrs={"Smiling": 1})
    assert first.shape == (10, 32, 32, 3) and first.dtype == np.uint8
    np.testing.assert_array_equal(first, sample_images(gan, 10, seed=3, attrs={"Smiling": 1}))
    assert not np.array_equal(first, sample_images(gan, 10, seed=4, attrs={"Smiling": 1}))
    assert not np.array_equal(first, sample_images(gan, 10, seed=3, attrs={"Smiling": 0}))
    np.testing.assert_array_equal(first[:4], sample_images(gan, 10, seed=3, attrs={"Smiling": 1},
                                                           batch_size=3)[:4])  # fmt: skip
    with pytest.raises(CelebalabError, match="Male"):
        sample_images(gan, 4, attrs={"Male": 1})
    assert parse_attrs("Smiling=1, Eyeglasses=0") == {"Smiling": 1, "Eyeglasses": 0}
    with pytest.raises(CelebalabError, match="NAME=0"):
        parse_attrs("Smiling=yes")


def test_combination_rows_share_the_noise_and_set_the_attributes(gan_run: Path) -> None:
    from celebalab.generate.sample import combination_rows

    gan = load_gan_run(gan_run)
    rows = combination_rows(gan, per=5, seed=2)
    assert len(rows) == 4 and all(images.shape == (5, 32, 32, 3) for _, images in rows)
    expected = sample_images(gan, 5, seed=2, attrs={"Smiling": 1, "Eyeglasses": 0})
    np.testing.assert_array_equal(rows[1][1], expected)  # same noise as sample --seed 2


def test_sample_cli_writes_grid_and_faces(gan_run: Path, tmp_path: Path) -> None:
    grid, each = tmp_path / "grid.png", tmp_path / "faces"
    args = ["gan", "sample", str(gan_run), "--out", str(grid), "--n", "6", "--each", str(each)]
    assert main([*args, "--upscale", "2", "--attrs", "Smiling=1"]) == 0
    faces = sorted(each.iterdir())
    assert len(faces) == 6 and Image.open(faces[0]).size == (64, 64)
    assert Image.open(grid).size[0] > 3 * 64
    assert main(args) == 2  # exists: needs --overwrite
    assert main([*args, "--overwrite", "--attrs", "Bald=1"]) == 2


def test_collapse_warnings() -> None:
    assert collapse_warnings([0.01] * 200, 1.0, 1.0, step=600, epoch=2)[0]["kind"] == (
        "discriminator_wins"
    )
    assert collapse_warnings([0.01] * 200, 1.0, 1.0, step=200, epoch=2) == []  # early dip
    assert collapse_warnings([1.2] * 200, 0.1, 0.9, step=2000, epoch=5)[0]["kind"] == (
        "low_diversity"
    )
    assert collapse_warnings([1.2] * 200, 0.1, 0.9, step=300, epoch=1)[0]["kind"] == (
        "low_diversity"  # fell below half its best: collapsing even before the warm-up
    )
    assert collapse_warnings([1.2] * 50, 0.1, float("nan"), step=50, epoch=1) == []


def test_evaluate_writes_metrics_with_the_real_floor(gan_run: Path, classifier_run: Path) -> None:
    from celebalab.generate._data import load_gan_data
    from celebalab.generate.evaluate import classifier_features
    from celebalab.models.run import load_run

    result = evaluate_gan(gan_run, classifier_run, n=30)
    saved = json.loads((gan_run / "eval" / "metrics.json").read_text())
    space = saved["feature_space"]
    assert "NOT with published FIDs" in space["description"]
    assert set(space["generated"]) == {"FID", "KID", "KID std", "precision", "recall"}
    assert space["generated"].keys() == space["floor"].keys()
    assert saved["samples_per_set"] == 30 and saved["data_matches_training"]
    # The floor is the two real halves' distance, recomputed here independently of evaluate.
    info = load_gan_run(gan_run).record
    data = load_gan_data(info.data.root, 32, "center", ("Smiling", "Eyeglasses"), 0)
    order = np.random.default_rng(0).permutation(len(data.rows["train"]))
    cls = load_run(classifier_run)
    halves = [classifier_features(cls, data.split_images("train", np.sort(order[a : a + 30])))
              for a in (0, 30)]  # fmt: skip
    assert space["floor"]["FID"] == pytest.approx(frechet_distance(halves[1], halves[0]))
    conditional = saved["conditional"]
    assert [r["attribute"] for r in conditional["per_attribute"]] == ["Smiling", "Eyeglasses"]
    assert 0.0 <= conditional["all_generated"] <= 1.0
    memo = saved["memorisation"]
    assert memo["ratio"] == pytest.approx(memo["generated_median"] / memo["heldout_median"])
    assert result.memorisation.ratio == memo["ratio"] and result.samples_per_set == 30
    assert result.pictures["pairs_png"].startswith(b"\x89PNG")
    assert "combinations" not in saved  # pictures go to the report, not metrics.json
    labels = [label for label, _ in result.pictures["combinations"]]
    assert labels == ["Smiling=0, Eyeglasses=0", "Smiling=1, Eyeglasses=0",
                      "Smiling=0, Eyeglasses=1", "Smiling=1, Eyeglasses=1"]  # fmt: skip
    html = (gan_run / "eval" / "report.html").read_text()
    assert "real vs real (floor)" in html and "One grid per attribute combination" in html
    with pytest.raises(CelebalabError, match="overwrite"):
        evaluate_gan(gan_run, classifier_run, n=30)


def test_recognition_from_features_equals_the_classifiers_probabilities(
    gan_run: Path, classifier_run: Path
) -> None:
    """evaluate reads attribute probabilities off the features it has (no second forward)."""
    from celebalab.generate._data import nchw, resize_bicubic
    from celebalab.generate.evaluate import _probabilities, classifier_features
    from celebalab.models import load_run, predict_proba

    cls = load_run(classifier_run)
    images = sample_images(load_gan_run(gan_run), 12, seed=5)
    direct = predict_proba(cls, resize_bicubic(nchw(images), cls.image_size))
    np.testing.assert_allclose(_probabilities(cls, classifier_features(cls, images)), direct,
                               rtol=1e-4, atol=1e-5)  # fmt: skip


def test_inception_weights_are_never_downloaded(
    gan_run: Path, classifier_run: Path, tmp_path: Path
) -> None:
    from celebalab.generate._inception import inception_metrics

    missing = tmp_path / "pt_inception.pth"
    with pytest.raises(CelebalabError, match="nothing is downloaded"):
        evaluate_gan(gan_run, classifier_run, inception_weights=missing, overwrite=True)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a weights file")
    images = np.zeros((4, 32, 32, 3), np.uint8)
    with pytest.raises(CelebalabError, match="could not use these Inception weights"):
        inception_metrics(images, images, garbage)


def test_sample_out_must_be_a_png(gan_run: Path, tmp_path: Path, capsys) -> None:
    assert main(["gan", "sample", str(gan_run), "--out", str(tmp_path / "x.txt")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --out") and ".png" in err and "\n" not in err
    assert not (tmp_path / "x.txt").exists()


def test_sample_output_size_is_capped_and_said(gan_run: Path, tmp_path: Path, capsys) -> None:
    from celebalab.generate.sample import MAX_SIDE

    grid = tmp_path / "g.png"
    assert main(["gan", "sample", str(gan_run), "--out", str(grid), "--upscale", "1000"]) == 0
    out = capsys.readouterr().out
    assert "note: --upscale 1000" in out and max(Image.open(grid).size) <= MAX_SIDE
    args = ["gan", "sample", str(gan_run), "--out", str(grid), "--n", "3000", "--overwrite"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "note:" in out and "3000" in out and max(Image.open(grid).size) <= MAX_SIDE


def test_evaluate_says_which_conditioned_attributes_it_cannot_check(
    gan_run: Path, tmp_path: Path, capsys
) -> None:
    from celebalab.models.architectures import IMAGENET_MEAN, IMAGENET_STD, build_model
    from celebalab.models.run import save_run

    torch.manual_seed(0)
    config = {
        "arch": "small_cnn", "task": "attributes", "attribute_names": ["Smiling", "Male"],
        "image_size": 32, "crop": "center",
        "normalisation": {"mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD), "scale": 255},
        "thresholds": {"Smiling": 0.5, "Male": 0.5}, "data": {"root": ""},
    }  # fmt: skip
    save_run(tmp_path / "cls", build_model("small_cnn", 2).eval(), config)
    args = ["gan", "evaluate", str(gan_run), "--classifier", str(tmp_path / "cls"),
            "--n", "10", "--overwrite"]  # fmt: skip
    assert main(args) == 0
    notes = [line for line in capsys.readouterr().out.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "Eyeglasses" in notes[0] and "Smiling" not in notes[0]
    saved = json.loads((gan_run / "eval" / "metrics.json").read_text())
    assert saved["conditional"]["not_checked"] == ["Eyeglasses"]


@pytest.mark.parametrize(
    ("argv", "words"),
    [(["sample", "RUN", "--out", "g.png", "--upscale", "0"], "--upscale must be >= 1, got 0"),
     (["sample", "RUN", "--out", "g.png", "--n", "0"], "--n must be >= 1, got 0"),
     (["sample", "RUN", "--out", "g.png", "--attrs", "Smiling=yes"], "expected NAME=0 or NAME=1"),
     (["evaluate", "RUN", "--classifier", "C", "--n", "5"], "--n must be >= 10, got 5")],
)  # fmt: skip
def test_sample_and_evaluate_options_are_refused_before_the_run_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture, argv: list[str], words: str
) -> None:
    """gan sample's and gan evaluate's flags come from SampleOptions and GanEvaluateOptions."""
    from cli_errors import refused_in_one_line

    paths = {"RUN": "missing run", "C": "missing classifier", "g.png": "g.png"}
    argv = ["gan", *(str(tmp_path / paths[a]) if a in paths else a for a in argv)]
    err = refused_in_one_line(argv, capsys, words)
    assert "missing" not in err and not (tmp_path / "g.png").exists()


def test_the_library_checks_sampling_and_evaluation_options(tmp_path: Path) -> None:
    from celebalab.generate import GanEvaluateOptions, SampleOptions
    from celebalab.generate.sample import write_samples
    from celebalab.options import ConfigError

    faces = np.zeros((2, 8, 8, 3), np.uint8)
    with pytest.raises(ConfigError, match="--upscale must be >= 1, got 0"):
        write_samples(faces, tmp_path / "g.png", upscale=0)
    with pytest.raises(ConfigError, match="--n must be >= 10, got 5"):
        evaluate_gan(tmp_path / "missing run", tmp_path / "missing classifier", n=5)
    with pytest.raises(ConfigError, match="unknown sampling option"):
        SampleOptions.from_dict({"faces": 8})
    with pytest.raises(ConfigError, match="unknown GAN evaluation option"):
        GanEvaluateOptions.from_dict({"inception_weights": "w.pt"})
    assert not (tmp_path / "g.png").exists()
