"""``celebalab model import``: ONNX, TorchScript, torch.export and dlib models become runs whose
vectors equal the original module's on the same aligned inputs; bad files are one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from celebalab.errors import CelebalabError
from celebalab.models import load_run
from celebalab.models.imported import ImportOptions, import_model
from celebalab.models.inference import iter_split_batches, model_input
from imported_models import export, tiny_net

ARCFACE = ImportOptions(preset="arcface")


def _aligned_batch(run, root: Path) -> torch.Tensor:
    return next(iter(iter_split_batches(run, root, "test", batch_size=16))).images


@pytest.mark.parametrize("fmt", ["onnx", "torchscript", "export"])
def test_imported_vectors_equal_the_original_module(tmp_path: Path, synth_root: Path, fmt: str):
    module = tiny_net()
    path = export(module, tmp_path / f"model.{fmt}", 112, fmt)
    run = load_run(import_model(str(path), tmp_path / "run", ARCFACE))
    images = _aligned_batch(run, synth_root / "CelebA")
    x = model_input(run, images)
    with torch.no_grad():
        expected = module(x)
        got = run.model(x)
    assert got.shape == (len(images), 16)
    assert torch.allclose(got, expected, atol=1e-5)
    config = json.loads((tmp_path / "run" / "run.json").read_text())
    assert config["kind"] == "imported" and config["task"] == "identity"
    assert config["alignment"]["method"] == "template"
    assert config["normalisation"]["mean"] == [0.5] * 3  # (x − 127.5) / 127.5
    assert len(config["source"]["sha256"]) == 64


def test_arcface_inputs_are_the_landmark_warp_of_the_dataset_image(tmp_path: Path, synth_root):
    """Rows are aligned from the dataset's own landmarks: the batch equals FacePrep applied to
    the file with that row's five points."""
    from celebalab.datasets.schema import LANDMARK_COLUMNS
    from celebalab.datasets.table import load_table

    path = export(tiny_net(), tmp_path / "m.onnx", 112, "onnx")
    run = load_run(import_model(str(path), tmp_path / "run", ARCFACE))
    batch = next(iter(iter_split_batches(run, synth_root / "CelebA", "test", batch_size=4)))
    table = load_table(synth_root / "CelebA")
    row = int(batch.rows[0])
    marks = table[list(LANDMARK_COLUMNS)].to_numpy(np.float64)[row].reshape(5, 2)
    file = Path(table.attrs["image_dir"]) / table["image_id"].iloc[row]
    expected = run.face_prep.load(file, marks).image
    assert np.array_equal(batch.images[0].permute(1, 2, 0).numpy(), expected)


def test_onnx_and_torchscript_give_the_same_embedding_set(tmp_path: Path, synth_root: Path):
    from celebalab.embeddings import load_embeddings
    from celebalab.embeddings.extract import extract_embeddings

    module = tiny_net()
    sets = {}
    for fmt in ("onnx", "torchscript"):
        run = import_model(str(export(module, tmp_path / f"m.{fmt}", 112, fmt)),
                           tmp_path / f"run_{fmt}", ARCFACE)  # fmt: skip
        emb = extract_embeddings(run, synth_root / "CelebA", tmp_path / f"emb_{fmt}",
                                 split="test")  # fmt: skip
        sets[fmt] = load_embeddings(emb.path)
    a, b = sets["onnx"], sets["torchscript"]
    assert list(a.meta["image_id"]) == list(b.meta["image_id"])
    assert np.abs(np.asarray(a.vectors) - np.asarray(b.vectors)).max() <= 1e-5
    assert a.manifest["source"]["alignment"]["method"] == "template"


def test_bgr_and_explicit_preprocessing(tmp_path: Path, synth_root: Path) -> None:
    module = tiny_net()
    path = export(module, tmp_path / "m.ts", 32, "torchscript")
    options = ImportOptions(input_size=32, mean=(100.0,), std=(50.0, 60.0, 70.0),
                            channels="bgr", alignment="crop-center")  # fmt: skip
    run = load_run(import_model(str(path), tmp_path / "run", options))
    images = _aligned_batch(run, synth_root / "CelebA")
    pixels = images.float()
    by_hand = (pixels - 100.0) / torch.tensor([50.0, 60.0, 70.0]).view(1, 3, 1, 1)
    with torch.no_grad():
        assert torch.allclose(run.model(model_input(run, images)), module(by_hand.flip(1)),
                              atol=1e-4)  # fmt: skip


def test_attribute_models_predict_and_evaluate(tmp_path: Path, synth_root: Path) -> None:
    from celebalab.models.evaluate import evaluate_run
    from celebalab.models.predict import predict_paths

    path = export(tiny_net(outputs=40), tmp_path / "m.pt2", 32, "export")
    run_dir = import_model(str(path), tmp_path / "run",
                           ImportOptions(kind="attributes", input_size=32))  # fmt: skip
    result = evaluate_run(run_dir, "test", synth_root / "CelebA")
    assert result.headline["images"] > 0
    images = sorted((synth_root / "CelebA" / "img_align_celeba").glob("*.jpg"))[:3]
    frame = predict_paths(run_dir, images)
    assert len(frame) == 3 and "prob_Smiling" in frame.columns
    with pytest.raises(CelebalabError, match="needs 40 outputs"):
        import_model(str(export(tiny_net(), tmp_path / "e.pt2", 32, "export")), tmp_path / "r2",
                     ImportOptions(kind="attributes", input_size=32))  # fmt: skip


def test_state_dict_needs_its_architecture(tmp_path: Path) -> None:
    from celebalab.models.architectures import build_model

    path = tmp_path / "weights.pt"
    torch.save(build_model("small_cnn", 12).state_dict(), path)
    with pytest.raises(CelebalabError, match="pass --arch"):
        import_model(str(path), tmp_path / "a", ImportOptions(input_size=32))
    run = load_run(import_model(str(path), tmp_path / "b",
                                ImportOptions(input_size=32, arch="small_cnn")))  # fmt: skip
    assert run.config["embedding_dim"] == 12 and run.differentiable


class _NaNNet(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3)) * float("nan")


class _FlatNet(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2


def test_bad_files_are_one_line_errors(tmp_path: Path) -> None:
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x08not really an onnx model" * 10)
    with pytest.raises(CelebalabError, match="not a readable ONNX model") as err:
        import_model(str(junk), tmp_path / "r1")
    assert "\n" not in str(err.value)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(CelebalabError, match="not an ONNX, TorchScript"):
        import_model(str(text), tmp_path / "r2")
    flat = tmp_path / "flat.onnx"
    torch.onnx.export(_FlatNet(), (torch.randn(2, 8),), str(flat), dynamo=True)
    with pytest.raises(CelebalabError, match="input has rank 2"):
        import_model(str(flat), tmp_path / "r3")
    nan = export(_NaNNet(), tmp_path / "nan.onnx", 32, "onnx")
    with pytest.raises(CelebalabError, match="NaN or infinite"):
        import_model(str(nan), tmp_path / "r4")
    fixed = export(tiny_net(), tmp_path / "m.onnx", 32, "onnx")
    with pytest.raises(CelebalabError, match="takes 32×32 images, not 112×112"):
        import_model(str(fixed), tmp_path / "r5", ARCFACE)
    assert not (tmp_path / "r5" / "run.json").exists()


def test_overwrite_replaces_only_an_earlier_import(tmp_path: Path) -> None:
    path = export(tiny_net(), tmp_path / "m.ts", 32, "torchscript")
    out = tmp_path / "run"
    import_model(str(path), out, ImportOptions(input_size=32))
    with pytest.raises(CelebalabError, match="not empty"):
        import_model(str(path), out, ImportOptions(input_size=32))
    (out / "mine.txt").write_text("keep")
    (out / "eval_test").mkdir()  # an evaluation of the earlier model: stale once replaced
    onnx = export(tiny_net(), tmp_path / "m.onnx", 32, "onnx")
    import_model(str(onnx), out, ImportOptions(input_size=32), overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == ["mine.txt", "model.onnx", "run.json"]
    assert (out / "mine.txt").read_text() == "keep" and load_run(out).model is not None


def test_a_failed_overwrite_keeps_the_earlier_import(tmp_path: Path) -> None:
    out = tmp_path / "run"
    import_model(str(export(tiny_net(), tmp_path / "m.ts", 32, "torchscript")), out,
                 ImportOptions(input_size=32))  # fmt: skip
    (out / "mine.txt").write_text("keep")
    nan = export(_NaNNet(), tmp_path / "nan.onnx", 32, "onnx")  # fails its probe, once copied
    with pytest.raises(CelebalabError, match="NaN or infinite"):
        import_model(str(nan), out, ImportOptions(input_size=32), overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == ["mine.txt", "model.ts", "run.json"]
    assert load_run(out).config["source"]["format"] == "torchscript"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_dlib_run_records_its_files_and_licence(tmp_path: Path) -> None:
    run = load_run(import_model("dlib", tmp_path / "dlib"))
    assert run.config["embedding_dim"] == 128 and not run.differentiable
    assert set(run.config["source"]["files"]) == {
        "dlib_face_recognition_resnet_model_v1.dat",
        "shape_predictor_5_face_landmarks.dat",
    }
    assert "68-point" in run.config["licence"]


def test_dlib_file_vectors_of_the_real_samples(tmp_path: Path) -> None:
    from celebalab.embeddings.features import file_vectors

    samples = Path(__file__).parent / "data" / "formats" / "celeba" / "img_align_celeba"
    run = load_run(import_model("dlib", tmp_path / "dlib"))
    blank = tmp_path / "blank.png"
    from PIL import Image

    Image.fromarray(np.full((120, 120, 3), 90, np.uint8)).save(blank)
    files = [samples / "000001.jpg", samples / "000002.jpg", blank]
    kept, vectors, probs, failed = file_vectors(run, files)
    assert kept == files[:2] and probs is None
    assert vectors.shape == (2, 128)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert failed == [(str(blank), "no face found (dlib HOG detector)")]


def test_model_import_cli(tmp_path: Path) -> None:
    from celebalab.cli import main

    path = export(tiny_net(), tmp_path / "m.onnx", 112, "onnx")
    assert main(["model", "import", str(path), "--preset", "arcface", "--out",
                 str(tmp_path / "run")]) == 0  # fmt: skip
    assert main(["model", "import", str(path), "--mean", "1,2", "--out",
                 str(tmp_path / "r2")]) == 2  # fmt: skip
    # the flags come from ImportOptions: --mean and --std read numbers
    assert main(["model", "import", str(path), "--std", "1,two,3", "--out",
                 str(tmp_path / "r3")]) == 2  # fmt: skip


def test_dlib_run_equals_dlib_used_directly(tmp_path: Path) -> None:
    """The imported run's vectors are dlib's own pipeline's (detector, 5-point predictor,
    compute_face_descriptor on the whole image), L2-normalised, on the real samples."""
    import dlib
    from PIL import Image

    from celebalab.alignment import DESCRIPTOR_FILE, PREDICTOR_FILE, dlib_file
    from celebalab.embeddings.features import file_vectors

    samples = sorted((Path(__file__).parent / "data" / "formats" / "celeba" /
                      "img_align_celeba").glob("*.jpg"))  # fmt: skip
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(dlib_file(PREDICTOR_FILE)))
    model = dlib.face_recognition_model_v1(str(dlib_file(DESCRIPTOR_FILE)))
    direct = []
    for path in samples:
        image = np.asarray(Image.open(path).convert("RGB"))
        shape = predictor(image, detector(image, 0)[0])
        vector = np.asarray(model.compute_face_descriptor(image, shape))
        direct.append(vector / np.linalg.norm(vector))
    run = load_run(import_model("dlib", tmp_path / "dlib"))
    _, vectors, _, _ = file_vectors(run, samples)
    assert np.abs(vectors - np.array(direct)).max() < 1e-5


def test_torchscript_of_a_torchvision_model_is_recognised(tmp_path: Path) -> None:
    """TorchScript stores code under module paths (``…/torchvision/models/…``): still TorchScript,
    not mistaken for a torch.export archive."""
    import torchvision

    path = tmp_path / "r18.ts"
    torch.jit.script(torchvision.models.resnet18(num_classes=8).eval()).save(str(path))
    run = load_run(import_model(str(path), tmp_path / "run", ImportOptions(input_size=64)))
    assert run.config["source"]["format"] == "torchscript"
    assert run.config["embedding_dim"] == 8
