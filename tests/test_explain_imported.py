"""``explain`` on imported runs: perturbation methods through any forward (ONNX too), gradient
methods only where gradients flow (each refusal one line, in ``skipped``), and face-parsing
masks warped by the very alignment of the images."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from celebalab.datasets.table import load_table
from celebalab.errors import CelebalabError
from celebalab.explain.falsification import FalsificationSettings
from celebalab.explain.methods import GRADIENT_METHODS
from celebalab.explain.runner import ExplainConfig, run_explain
from celebalab.models import load_run
from celebalab.models.imported import ImportOptions, import_model
from imported_models import export, tiny_net

SIZE = 32
PERTURBATION = ("occlusion", "lime", "kernelshap", "random")
SMALL = {
    "n": 4,
    "samples": 1,
    "batch_size": 8,
    "falsification": FalsificationSettings(draws=2, steps=2),
}


@pytest.fixture(scope="module")
def paired(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic CelebA (landmarks, label maps) with counterfactual pairs."""
    from celebalab.datasets.synth import generate

    out = tmp_path_factory.mktemp("pairs") / "out"
    generate(out, 40, seed=3, n_hq=0, workers=1, pairs=("Eyeglasses",), pairs_per_attribute=3)
    return out / "CelebA"


def _imported(tmp_path: Path, fmt: str, kind: str, alignment: str) -> Path:
    outputs = 40 if kind == "attributes" else 16
    path = export(tiny_net(outputs=outputs), tmp_path / f"model.{fmt}", SIZE, fmt)
    options = ImportOptions(kind=kind, input_size=SIZE, alignment=alignment)
    return import_model(str(path), tmp_path / f"run_{fmt}", options)


def _per_image(out: Path) -> pd.DataFrame:
    return pd.read_parquet(out / "per_image.parquet")


def test_onnx_identity_pairs_refuse_gradient_methods_in_one_line(paired: Path, tmp_path: Path):
    """Perturbation methods explain an ONNX recogniser's pair decisions, with regional metrics
    against masks warped by the ArcFace-template alignment; gradient methods are one line each."""
    from typer.testing import CliRunner

    from celebalab.cli import app

    run = _imported(tmp_path, "onnx", "identity", "arcface")
    out = tmp_path / "out"
    args = ["explain", str(run), str(paired), "--out", str(out), "--n", "3", "--fr-draws", "2",
            "--curve-steps", "2", "--shap-samples", "16", "--lime-samples", "16",
            "--methods", "saliency,gradcam,occlusion,lime,kernelshap,random"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    for method in ("saliency", "gradcam"):
        said = [line for line in result.output.splitlines() if f"{method} skipped" in line]
        assert len(said) == 1 and "is an onnx model (no gradients)" in said[0]
    skipped = json.loads((out / "results.json").read_text())["skipped"]
    assert sum("skipped: run" in s["reason"] for s in skipped) == 2
    frame = _per_image(out)
    assert set(frame["method"]) == {"occlusion", "lime", "kernelshap", "random"}
    assert set(frame["decision"]) == {"pair"} and len(frame) == 4 * 3
    for column in ("drop_explanation", "deletion_auc", "insertion_auc", "regional_precision"):
        assert np.isfinite(frame[column]).all(), column
    assert frame["area"].between(0, 0.5).all() and frame["area"].gt(0).all()


def test_gradient_methods_are_never_attempted_on_onnx(
    paired: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Would fail if a gradient method ran (or silently produced maps) for an ONNX model."""
    from celebalab.explain import methods
    from celebalab.explain.decisions import PairDecision

    methods._METHODS["random"]  # load the table, then make every gradient method fatal
    for name in GRADIENT_METHODS:
        monkeypatch.setitem(methods._METHODS, name, lambda *a, n=name: pytest.fail(f"{n} ran"))
    run = load_run(_imported(tmp_path, "onnx", "identity", "arcface"))
    config = ExplainConfig(methods=(*GRADIENT_METHODS, "occlusion"), **SMALL)
    result = run_explain(run, paired, tmp_path / "out", config=config)
    assert set(_per_image(tmp_path / "out")["method"]) == {"occlusion"}
    assert len(result.skipped) >= len(GRADIENT_METHODS)
    maps = result.outputs.samples["pair"].maps["occlusion"]
    assert maps.shape == (1, SIZE, SIZE) and np.isfinite(maps).all() and maps.std() > 0
    x = torch.zeros(1, 3, SIZE, SIZE)
    with pytest.raises(CelebalabError, match="saliency needs gradients"):
        methods.attribute("saliency", PairDecision(run.model), x, extra=(torch.ones(1, 16),))
    with pytest.raises(CelebalabError, match="no gradients"):  # nothing left to run: one error
        run_explain(run, paired, tmp_path / "out2", config=ExplainConfig(methods=("ig",)))


def test_torchscript_attribute_run_gets_gradient_methods(synth_root: Path, tmp_path: Path):
    """A TorchScript classifier: saliency and IG run (gradients flow), Grad-CAM is refused in
    one line (no hookable layer), occlusion runs; masks are the crop's label-map pack."""
    run = _imported(tmp_path, "torchscript", "attributes", "crop-center")
    config = ExplainConfig(
        methods=("saliency", "ig", "gradcam", "occlusion"),
        attributes=("Smiling",),
        attribution=_quick_attribution(),
        **SMALL,
    )
    result = run_explain(run, synth_root / "CelebA", tmp_path / "out", config=config)  # fmt: skip
    frame = _per_image(tmp_path / "out")
    assert set(frame["method"]) == {"saliency", "ig", "occlusion"}
    columns = ["regional_precision", "drop_explanation", "deletion_auc"]
    assert np.isfinite(frame[columns].to_numpy()).all()
    reasons = [s["reason"] for s in result.skipped if s["reason"].startswith("gradcam")]
    assert reasons == [
        f"gradcam skipped: run {run} is a TorchScript model with no convolutional layer Grad-CAM "
        "can hook; the other methods run"
    ]


def _quick_attribution():
    from celebalab.explain.methods import AttributionSettings

    return AttributionSettings(ig_steps=4, perturbations_per_eval=16)


def test_template_masks_follow_the_image_warp(paired: Path, tmp_path: Path) -> None:
    """A label map drawn from the image itself, warped as masks are, matches the image the model
    sees (the dataset's landmarks onto the ArcFace template); a transform off by 1.5 px does not."""
    from celebalab.explain._imported import InputFrame, warp_labels

    run = load_run(_imported(tmp_path, "onnx", "identity", "arcface"))
    table = load_table(paired)
    frame = InputFrame.of(run, table)
    row = 0
    path = Path(table.attrs["image_dir"]) / table["image_id"].iloc[row]
    with Image.open(path) as image:
        levels = np.asarray(image.convert("RGB"))[..., 0] // 64  # a "label map" of the image
    aligned = frame.image(path, row)
    assert np.array_equal(aligned, run.face_prep.load(path, frame.landmarks[row]).image)
    seen = aligned[..., 0] // 64
    assert (frame.mask(levels, row) == seen).mean() > 0.9
    assert (frame.mask(levels[::2, ::2], row) == seen).mean() > 0.9  # as a pack at half size
    off = _matrix(frame, row) + np.array([[0, 0, 1.5], [0, 0, 1.5]])
    assert (warp_labels(levels, off, levels.shape, SIZE) == seen).mean() < 0.88


def _matrix(frame, row: int) -> np.ndarray:
    from celebalab.alignment import fit_similarity

    return fit_similarity(frame.landmarks[row], np.asarray(frame.prep.points))


@pytest.mark.parametrize("method", ["dlib", "template"])
def test_detector_aligned_masks_follow_the_image(tmp_path: Path, method: str) -> None:
    """Without landmarks (and always for dlib's chips) a mask goes through the transform the
    detector-based alignment applied: a label map drawn from the real sample face, warped as
    masks are, matches the aligned image the model sees."""
    from celebalab.alignment import FacePrep
    from celebalab.explain._imported import InputFrame

    samples = Path(__file__).parent / "data" / "formats" / "celeba" / "img_align_celeba"
    prep = FacePrep(size=150, method="dlib") if method == "dlib" else FacePrep.for_template(
        "arcface", 112)  # fmt: skip
    frame = InputFrame(prep, "runs/x", samples, ("000001.jpg",), None)
    with Image.open(samples / "000001.jpg") as image:
        levels = np.asarray(image.convert("RGB"))[..., 0] // 64
    seen = prep.load(samples / "000001.jpg").image[..., 0] // 64
    assert (frame.mask(levels, 0) == seen).mean() > 0.9
