"""The batched-inference API on a loaded run, each piece against an independent reference.

Images are checked against the decoder the pack uses read one file at a time; model input against
torchvision's normalisation; features against the head's own linear map; device and split
options against the one-line errors the CLI prints.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision.transforms.v2.functional as TF

from celebalab.datasets.decode import load_resized
from celebalab.datasets.schema import ATTRIBUTE_NAMES
from celebalab.errors import CelebalabError
from celebalab.models import (
    ARCHITECTURES,
    ImageBatch,
    extract_features,
    iter_split_batches,
    model_input,
    predict_logits,
)
from celebalab.models.architectures import IMAGENET_MEAN, IMAGENET_STD, build_model, classifier_head
from celebalab.models.run import LoadedRun
from celebalab.runtime import check_split, resolve_device
from model_runs import run_config, save_untrained_run

SIZE = 32


def _save(run_dir: Path, root: Path | None = None) -> LoadedRun:
    return save_untrained_run(run_dir, root, SIZE)


@pytest.fixture(scope="module")
def celeba(synth_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the synthetic CelebA with one corrupt JPEG (image 7), packed nowhere yet."""
    root = tmp_path_factory.mktemp("infer") / "CelebA"
    shutil.copytree(synth_root / "CelebA", root, ignore=shutil.ignore_patterns(".celebalab_cache"))
    (root / "img_align_celeba" / "000007.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    return root


def _collect(batches) -> tuple[np.ndarray, np.ndarray, list[str]]:
    out = list(batches)
    assert all(isinstance(b, ImageBatch) for b in out)
    assert all(b.images.dtype == torch.uint8 and b.images.shape[1:] == (3, SIZE, SIZE) for b in out)
    rows = np.concatenate([b.rows for b in out])
    images = torch.cat([b.images for b in out]).numpy()
    return rows, images, [image_id for b in out for image_id in b.image_ids]


def test_split_batches_decoded_and_packed_agree_and_list_corrupt_images(celeba, tmp_path):
    from celebalab.datasets.packed import pack_images
    from celebalab.datasets.table import load_table

    run = _save(tmp_path / "run", root=celeba)
    table = load_table(celeba)
    test_rows = np.flatnonzero(table["partition"].to_numpy() == 2)
    decoded = iter_split_batches(run, celeba, "test", batch_size=7, workers=2)
    rows, images, ids = _collect(decoded)
    assert decoded.source == "image files" and len(decoded) == -(-len(test_rows) // 7)
    np.testing.assert_array_equal(rows, test_rows)  # the official test partition, in order
    assert ids == table["image_id"].iloc[rows].tolist()
    for k in (0, len(rows) - 1):  # pixels of the pack's decoder, file by file
        reference = load_resized(celeba / "img_align_celeba" / ids[k], SIZE, "center")
        np.testing.assert_array_equal(images[k], reference.transpose(2, 0, 1))

    every = iter_split_batches(run, celeba, "all", batch_size=16, workers=0)
    all_rows, all_images, _ = _collect(every)
    assert [image_id for image_id, _ in every.skipped] == ["000007.jpg"]
    assert "unreadable image" in every.skipped[0][1]
    assert len(all_rows) == len(table) - 1 and 6 not in all_rows

    pack_images(celeba, SIZE, workers=1)
    packed = iter_split_batches(run, celeba, "all", batch_size=16)
    packed_rows, packed_images, _ = _collect(packed)
    assert packed.source == "packed cache"
    assert [image_id for image_id, _ in packed.skipped] == ["000007.jpg"]
    np.testing.assert_array_equal(packed_rows, all_rows)
    np.testing.assert_array_equal(packed_images, all_images)
    chosen = iter_split_batches(run, celeba, rows=[5, 2, 9], batch_size=2)
    assert _collect(chosen)[0].tolist() == [5, 2, 9]  # explicit rows keep their order


def test_model_input_matches_torchvision_and_logits_the_model(tmp_path):
    run = _save(tmp_path / "run")
    images = torch.randint(0, 256, (4, 3, SIZE, SIZE), dtype=torch.uint8)
    x = model_input(run, images)
    reference = TF.normalize(images.float() / 255, list(IMAGENET_MEAN), list(IMAGENET_STD))
    torch.testing.assert_close(x, reference, rtol=1e-5, atol=1e-5)
    assert x.is_contiguous(memory_format=torch.channels_last) and x.device == run.device
    torch.testing.assert_close(model_input(run, images.permute(0, 2, 3, 1).numpy()), x)
    logits = predict_logits(run, images)
    assert logits.shape == (4, len(ATTRIBUTE_NAMES)) and not logits.requires_grad
    with torch.no_grad():
        torch.testing.assert_close(logits, run.model(reference))
    grad_input = model_input(run, images).requires_grad_()  # the attribution forward
    run.model(grad_input)[:, 0].sum().backward()
    assert grad_input.grad is not None and grad_input.grad.abs().sum() > 0
    for bad in (images.float(), images[:, :, :16], images[0]):
        with pytest.raises(ValueError):
            model_input(run, bad)


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_features_are_the_input_of_the_head(arch: str, tmp_path):
    torch.manual_seed(0)
    model = build_model(arch, len(ATTRIBUTE_NAMES)).eval()
    run = LoadedRun(run_dir=tmp_path, config=run_config(arch, SIZE), model=model, image_size=SIZE)
    images = torch.randint(0, 256, (2, 3, SIZE, SIZE), dtype=torch.uint8)
    features = extract_features(run, images)
    head = classifier_head(run.model)
    assert features.shape == (2, head.in_features)
    torch.testing.assert_close(
        features @ head.weight.T + head.bias, predict_logits(run, images), rtol=1e-4, atol=1e-4
    )


def test_split_device_and_option_errors_are_one_line(tmp_path, celeba):
    run = _save(tmp_path / "run")
    with pytest.raises(CelebalabError, match="--split must be one of train, val, test, all"):
        check_split("testing")
    with pytest.raises(CelebalabError, match="--batch-size must be >= 1, got 0"):
        iter_split_batches(run, celeba, "test", batch_size=0)
    with pytest.raises(CelebalabError, match="--workers must be >= 0, got -1"):
        iter_split_batches(run, celeba, "test", workers=-1)
    with pytest.raises(CelebalabError, match="rows must lie in"):
        iter_split_batches(run, celeba, rows=[10_000])
    with pytest.raises(CelebalabError, match="'foo' is not a torch device"):
        resolve_device("foo")
    assert resolve_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(CelebalabError, match="no CUDA GPU is visible"):
            resolve_device("cuda")
