"""``celebalab evaluate`` and ``celebalab predict`` on a tiny untrained run and a tiny dataset.

Metrics written by ``evaluate`` are checked against scikit-learn on the written predictions and
labels read independently from ``list_attr_celeba.txt``; ``predict`` is checked against a
torchvision preprocessing of the same image; the packed and decoded data paths must agree.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import typer
from PIL import Image
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score
from typer.testing import CliRunner

from celebalab.datasets.schema import ATTRIBUTE_NAMES
from celebalab.errors import CelebalabError
from celebalab.models._cli_eval import register
from celebalab.models.architectures import IMAGENET_MEAN, IMAGENET_STD, build_model
from celebalab.models.config import EvaluateRunOptions, PredictOptions
from celebalab.models.evaluate import evaluate_run
from celebalab.models.predict import PredictError, predict_paths, predictions_json
from celebalab.models.run import save_run
from celebalab.options import ConfigError
from cli_errors import refused_in_one_line

SIZE = 32  # model input side: tiny, so the tests stay fast
N_IMAGES = 36
PARTITIONS = [0] * 16 + [1] * 6 + [2] * 14


def _face(rng: np.random.Generator, width: int = 178, height: int = 218) -> Image.Image:
    coarse = (rng.random((height // 20 + 2, width // 20 + 2, 3)) * 255).astype(np.uint8)
    return Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC)


def _write_celeba(root: Path, seed: int = 0) -> None:
    """A tiny official-layout CelebA: CRLF, count line, header with a trailing space."""
    rng = np.random.default_rng(seed)
    (root / "img_align_celeba").mkdir(parents=True)
    ids = [f"{i:06d}.jpg" for i in range(1, N_IMAGES + 1)]
    for image_id in ids:
        _face(rng).save(root / "img_align_celeba" / image_id, quality=92)
    values = rng.choice(["-1", " 1"], size=(N_IMAGES, len(ATTRIBUTE_NAMES)), p=[0.7, 0.3])
    values[:, ATTRIBUTE_NAMES.index("Bald")] = "-1"  # single-class column: undefined metrics
    lines = [str(N_IMAGES), " ".join(ATTRIBUTE_NAMES) + " "]
    lines += [f"{i} {' '.join(v)}" for i, v in zip(ids, values, strict=True)]
    (root / "list_attr_celeba.txt").write_bytes("\r\n".join(lines).encode() + b"\r\n")
    parts = [f"{i} {p}" for i, p in zip(ids, PARTITIONS, strict=True)]
    (root / "list_eval_partition.txt").write_bytes("\r\n".join(parts).encode() + b"\r\n")


def _labels(root: Path, ids: list[str]) -> np.ndarray:
    """0/1 labels of ``ids`` parsed straight from the attribute file (independent of the table)."""
    frame = pd.read_csv(root / "list_attr_celeba.txt", sep=r"\s+", skiprows=1)
    return (frame.loc[ids, list(ATTRIBUTE_NAMES)].to_numpy() > 0).astype(np.uint8)


def _make_run(run_dir: Path, root: Path, seed: int = 0) -> None:
    torch.manual_seed(seed)
    model = build_model("small_cnn", len(ATTRIBUTE_NAMES))
    rng = np.random.default_rng(seed)
    thresholds = {
        n: float(t) for n, t in zip(ATTRIBUTE_NAMES, rng.uniform(0.3, 0.7, 40), strict=True)
    }
    config = {
        "arch": "small_cnn",
        "task": "attributes",
        "attribute_names": list(ATTRIBUTE_NAMES),
        "image_size": SIZE,
        "crop": "center",
        "normalisation": {"mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD), "scale": 255},
        "thresholds": thresholds,
        "threshold_metric": "balanced_accuracy",
        "data": {"root": str(root)},
    }
    save_run(run_dir, model.eval(), config)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("eval")
    root = base / "CelebA"
    _write_celeba(root)
    _make_run(base / "run", root)
    return base / "run", root


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())} if folder.exists() else {}


def test_evaluate_metrics_match_sklearn(setup: tuple[Path, Path]) -> None:
    run_dir, root = setup
    result = evaluate_run(run_dir, "test", workers=0, batch_size=5)
    assert result.data_source == "image files"
    out = run_dir / "eval_test"
    for name in ("metrics.csv", "metrics.json", "confusion.csv", "predictions.parquet",
                 "report.html"):  # fmt: skip
        assert (out / name).is_file(), name
    preds = pd.read_parquet(out / "predictions.parquet")
    assert len(preds) == PARTITIONS.count(2)
    y = _labels(root, preds["image_id"].tolist())
    probs = preds[[f"prob_{n}" for n in ATTRIBUTE_NAMES]].to_numpy()
    thr = np.array([json.loads((run_dir / "run.json").read_text())["thresholds"][n]
                    for n in ATTRIBUTE_NAMES])  # fmt: skip
    pred = (probs >= thr).astype(np.uint8)
    metrics = pd.read_csv(out / "metrics.csv", index_col="attribute")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for j, name in enumerate(ATTRIBUTE_NAMES):
            f1 = f1_score(y[:, j], pred[:, j], zero_division=np.nan)
            np.testing.assert_allclose(metrics.loc[name, "f1"], f1, rtol=1e-5)
            if 0 < y[:, j].sum() < len(y):
                bacc = balanced_accuracy_score(y[:, j], pred[:, j])
                assert metrics.loc[name, "balanced_accuracy"] == pytest.approx(bacc, rel=1e-5)
    assert np.isnan(metrics.loc["Bald", "balanced_accuracy"])  # single class → undefined
    summary = json.loads((out / "metrics.json").read_text())
    head = summary["headline"]
    assert head["mean_accuracy"] == pytest.approx((pred == y).mean(), rel=1e-6)
    at_half = (probs >= 0.5).astype(np.uint8)  # the literature protocol, beside the tuned figures
    accuracy = np.mean([accuracy_score(y[:, j], at_half[:, j]) for j in range(y.shape[1])])
    assert head["mean_accuracy_at_0.5"] == pytest.approx(accuracy, rel=1e-6)
    defined = [j for j in range(y.shape[1]) if 0 < y[:, j].sum() < len(y)]
    balanced = np.mean([balanced_accuracy_score(y[:, j], at_half[:, j]) for j in defined])
    assert head["mean_balanced_accuracy_at_0.5"] == pytest.approx(balanced, rel=1e-6)
    assert "threshold 0.5" in (out / "report.html").read_text()
    for key in ("mean_balanced_accuracy", "macro_f1", "baseline_mean_accuracy"):
        assert key in head
    assert summary["attributes"]["Bald"]["balanced_accuracy"] is None  # NaN → null
    assert summary["groups"] is None  # real-looking data: no synthetic truth


def test_report_has_sorted_chart_and_baselines(setup: tuple[Path, Path]) -> None:
    run_dir, _ = setup
    result = evaluate_run(run_dir, "val", workers=0, write=False)
    from celebalab.models.eval_report import build_evaluation_report

    page = build_evaluation_report(result).render()
    assert "Per-attribute results, sorted" in page and "data:image/png;base64," in page
    assert "majority baseline" in page
    assert page.index("Mean balanced accuracy") < page.index("Mean accuracy")
    assert not (run_dir / "eval_val").exists()  # write=False writes nothing


def test_chart_is_sorted_by_balanced_accuracy() -> None:
    from celebalab.metrics.attributes import attribute_metrics
    from celebalab.models.eval_report import attribute_chart

    rng = np.random.default_rng(1)
    y = (rng.random((200, 6)) < 0.4).astype(np.uint8)
    y[:, 5] = 0  # undefined balanced accuracy: drawn first (bottom), marked n/a
    probs = np.clip(y * rng.uniform(0, 0.6, 6) + rng.random((200, 6)) * 0.6, 0, 1)
    metrics = attribute_metrics(y, probs, [0.5] * 6, names=list("abcdef"))
    fig = attribute_chart(metrics, {"a": "drawn", "b": "sampled-only"})
    shown = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    expected = metrics["balanced_accuracy"].sort_values(na_position="first").index.tolist()
    assert shown == expected and shown[0] == "f"
    labels = {t.get_text() for t in fig.axes[0].texts}
    assert "n/a" in labels


def test_packed_and_decoded_paths_agree(setup: tuple[Path, Path], tmp_path: Path) -> None:
    from celebalab.datasets.packed import pack_images

    run_dir, root = setup
    copy = tmp_path / "CelebA"
    shutil.copytree(root, copy)
    (copy / "img_align_celeba" / "000020.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    decoded = evaluate_run(run_dir, "all", root=copy, workers=0, write=False)
    pack_images(copy, SIZE, workers=1)
    packed = evaluate_run(run_dir, "all", root=copy, write=False)
    assert (decoded.data_source, packed.data_source) == ("image files", "packed cache")
    assert decoded.skipped_images == packed.skipped_images == ["000020.jpg"]
    assert len(packed.predictions) == N_IMAGES - 1
    pd.testing.assert_frame_equal(decoded.predictions, packed.predictions, atol=1e-5)


def test_synthetic_groups_reported(setup: tuple[Path, Path], synth_root: Path) -> None:
    run_dir, _ = setup
    truth = json.loads((synth_root / "synthetic_truth.json").read_text())
    result = evaluate_run(run_dir, "all", root=synth_root / "CelebA", workers=0, write=False)
    assert result.groups is not None
    assert {"drawn", "sampled-only"} <= set(result.groups.index)
    for name, region in truth["attribute_regions"].items():
        assert result.attribute_kinds[name] == region["kind"]
    drawn = [n for n, g in result.attribute_groups.items() if g == "drawn"]
    expected = result.metrics.loc[drawn, "accuracy"].mean()
    assert result.groups.loc["drawn", "accuracy"] == pytest.approx(expected)
    assert result.groups.loc["drawn", "attributes"] == len(drawn)
    assert result.attribute_groups["Attractive"] == "sampled-only"


def test_bad_run_dirs_raise_and_overwrite_nothing(setup: tuple[Path, Path], tmp_path: Path) -> None:
    run_dir, root = setup
    bad = tmp_path / "run"
    shutil.copytree(run_dir, bad, ignore=shutil.ignore_patterns("eval_*"))
    (bad / "eval_test").mkdir()
    for name in ("metrics.csv", "metrics.json", "report.html"):  # an earlier evaluation
        (bad / "eval_test" / name).write_text(f"earlier {name}")
    before = _snapshot(bad / "eval_test")
    config = json.loads((bad / "run.json").read_text())
    (bad / "run.json").write_text(json.dumps({**config, "format_version": 99}))
    with pytest.raises(CelebalabError, match="format 99"):
        evaluate_run(bad, "test", workers=0)
    (bad / "run.json").write_text(json.dumps(config))
    (bad / "model.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CelebalabError, match=r"model\.pt"):
        evaluate_run(bad, "test", workers=0)
    with pytest.raises(CelebalabError, match=r"model\.pt"):
        predict_paths(bad, [root / "img_align_celeba" / "000001.jpg"])
    with pytest.raises(CelebalabError, match="dataset root not found"):
        evaluate_run(run_dir, "test", root=tmp_path / "missing")
    assert _snapshot(bad / "eval_test") == before


@pytest.fixture()
def image_folder(setup: tuple[Path, Path], tmp_path: Path) -> Path:
    _, root = setup
    folder = tmp_path / "images"
    folder.mkdir()
    shutil.copy(root / "img_align_celeba" / "000001.jpg", folder / "a.jpg")
    _face(np.random.default_rng(5), 300, 250).save(folder / "b.png")  # other size, lossless
    _face(np.random.default_rng(6), 90, 110).convert("L").save(folder / "d.png")  # greyscale
    (folder / "c.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    (folder / "notes.txt").write_text("not an image, not collected")
    return folder


def _reference_probs(run_dir: Path, path: Path) -> np.ndarray:
    """torchvision preprocessing: central square, antialiased bicubic resize, ImageNet normalise."""
    from torchvision.transforms import v2

    from celebalab.models.run import load_run

    run = load_run(run_dir)
    image = v2.functional.pil_to_tensor(Image.open(path).convert("RGB"))
    image = v2.functional.center_crop(image, [min(image.shape[1:])] * 2)
    image = v2.functional.resize(image, [SIZE, SIZE], v2.InterpolationMode.BICUBIC, antialias=True)
    x = v2.functional.normalize(image.float() / 255, list(IMAGENET_MEAN), list(IMAGENET_STD))
    with torch.inference_mode():
        return torch.sigmoid(run.model(x[None])).numpy()[0]


def test_predict_folder_with_corrupt_file(setup: tuple[Path, Path], image_folder: Path) -> None:
    run_dir, _ = setup
    # detect="never": every file cropped as in training (the default finds faces in photos)
    frame = predict_paths(run_dir, [image_folder], batch_size=2, detect="never")
    assert [Path(p).name for p in frame["path"]] == ["a.jpg", "b.png", "d.png"]
    failures = frame.attrs["failures"]
    assert [Path(f["path"]).name for f in failures] == ["c.jpg"]
    assert "unreadable image" in failures[0]["reason"]
    probs = frame.loc[1, [f"prob_{n}" for n in ATTRIBUTE_NAMES]].to_numpy(float)
    np.testing.assert_allclose(probs, _reference_probs(run_dir, image_folder / "b.png"), atol=0.01)
    thresholds = np.array(list(frame.attrs["thresholds"].values()))
    labels = frame[[f"pred_{n}" for n in ATTRIBUTE_NAMES]].to_numpy()
    np.testing.assert_array_equal(labels, (frame.filter(like="prob_").to_numpy() >= thresholds))
    doc = predictions_json(frame)
    assert doc["failures"] == failures and len(doc["images"]) == 3


def test_predict_cli_exit_codes(setup: tuple[Path, Path], image_folder: Path) -> None:
    run_dir, _ = setup
    app = typer.Typer()
    register(app)
    out = image_folder.parent / "out.json"
    args = ["predict", str(run_dir), str(image_folder), "--json", str(out)]
    res = CliRunner().invoke(app, [*args, "--align", "never"])
    assert res.exit_code == 1, res.output  # one unreadable file
    assert "c.jpg" in res.output and "a.jpg" in res.output
    assert len(json.loads(out.read_text())["images"]) == 3
    # by default the two drawn non-CelebA-sized images go through the face detector: no face
    res = CliRunner().invoke(app, [*args, "--overwrite"])
    assert res.exit_code == 1 and res.output.count("no face found") == 2, res.output
    assert len(json.loads(out.read_text())["images"]) == 1
    out.unlink()
    bad = image_folder / "c.jpg"
    res = CliRunner().invoke(app, ["predict", str(run_dir), str(bad), "--json", str(out)])
    assert isinstance(res.exception, PredictError) and not out.exists()
    with pytest.raises(PredictError, match="no such file"):
        predict_paths(run_dir, [image_folder / "missing.jpg"])


def test_evaluate_cli_prints_headline_with_baseline(setup: tuple[Path, Path]) -> None:
    run_dir, _ = setup
    app = typer.Typer()
    register(app)
    res = CliRunner().invoke(app, ["evaluate", str(run_dir), "--split", "val", "--workers", "0"])
    assert res.exit_code == 0, res.output
    assert "Mean balanced accuracy" in res.output and "majority baseline" in res.output
    assert (run_dir / "eval_val" / "report.html").is_file()


@pytest.mark.parametrize(
    ("argv", "words"),
    [(["evaluate", "RUN", "--split", "dev"], "--split must be one of train, val, test, all"),
     (["evaluate", "RUN", "--batch-size", "0"], "--batch-size must be >= 1, got 0"),
     (["evaluate", "RUN", "--workers", "-1"], "--workers must be >= 0, got -1"),
     (["predict", "RUN", "x.jpg", "--top", "0"], "--top must be >= 1, got 0"),
     (["predict", "RUN", "x.jpg", "--max-rows", "-1"], "--max-rows must be >= 0, got -1"),
     (["predict", "RUN", "x.jpg", "--align", "sometimes"], "--align must be one of auto")],
)  # fmt: skip
def test_cli_options_are_refused_before_the_run_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture, argv: list[str], words: str
) -> None:
    """evaluate's and predict's flags come from EvaluateRunOptions and PredictOptions."""
    argv = [str(tmp_path / "missing run") if a == "RUN" else a for a in argv]
    err = refused_in_one_line(argv, capsys, words)
    assert "missing run" not in err


def test_the_library_checks_its_options_with_the_same_dataclasses(
    setup: tuple[Path, Path], image_folder: Path
) -> None:
    run_dir, _ = setup
    with pytest.raises(ConfigError, match="--split must be one of"):
        evaluate_run(run_dir, "dev")
    with pytest.raises(ConfigError, match="--align must be one of auto, always, never"):
        predict_paths(run_dir, [image_folder], detect="sometimes")
    with pytest.raises(ConfigError, match="unknown evaluation option"):
        EvaluateRunOptions.from_dict({"splits": "val"})
    with pytest.raises(ConfigError, match="unknown prediction option"):
        PredictOptions.from_dict({"detect": "never"})
    assert not (run_dir / "eval_dev").exists()
