"""Unit tests of the training building blocks, each against an independent reference."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
import torchvision.transforms.v2.functional as TF
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score
from torchvision.ops import sigmoid_focal_loss

from celebalab.datasets.schema import ATTRIBUTE_NAMES
from celebalab.errors import CelebalabError
from celebalab.models._module import AttributeClassifier, attribute_loss, augment
from celebalab.models._thresholds import tune_thresholds
from celebalab.models.architectures import (
    ARCHITECTURES,
    IMAGENET_MEAN,
    IMAGENET_STD,
    WeightsError,
    build_model,
    load_pretrained,
    normalise_uint8,
)
from celebalab.models.data import EpochBatchSampler, make_splits, positive_weights
from celebalab.models.inference import predict_proba
from celebalab.models.run import FORMAT_VERSION, RunDirError, load_run, save_run


@pytest.mark.parametrize("metric", ["balanced_accuracy", "f1", "accuracy"])
def test_thresholds_reach_the_brute_force_optimum(metric: str) -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, (200, 4))
    y[:, 3] = rng.random(200) < 0.05  # rare attribute
    p = np.clip(y * 0.3 + rng.random((200, 4)) * 0.7, 0, 1).round(2)  # ties on purpose
    thr = tune_thresholds(y, p, metric)
    score = {"balanced_accuracy": balanced_accuracy_score, "f1": f1_score,
             "accuracy": accuracy_score}[metric]  # fmt: skip
    for a in range(4):
        best = max(score(y[:, a], p[:, a] >= t) for t in np.unique(np.r_[p[:, a], 1.01]))
        assert score(y[:, a], p[:, a] >= thr[a]) == pytest.approx(best)
        assert not np.isin(thr[a], p[:, a])  # cut lies between scores, never on one


def test_thresholds_of_single_class_attribute_stay_at_half() -> None:
    y = np.zeros((10, 1))
    assert tune_thresholds(y, np.linspace(0, 1, 10)[:, None])[0] == 0.5


def test_losses_match_torch_references() -> None:
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(16, 5, generator=g)
    targets = (torch.rand(16, 5, generator=g) < 0.3).float()
    pw = torch.tensor([1.0, 2.0, 3.0, 0.5, 9.0])
    ref = torch.nn.BCEWithLogitsLoss(pos_weight=pw)(logits, targets)
    assert attribute_loss(logits, targets, pw).item() == pytest.approx(ref.item(), rel=1e-6)
    focal = sigmoid_focal_loss(logits, targets, alpha=-1, gamma=2.0, reduction="mean")
    assert attribute_loss(logits, targets, None, 2.0).item() == pytest.approx(focal.item(), 1e-5)


def test_normalisation_matches_torchvision_and_accepts_nhwc() -> None:
    images = torch.randint(0, 256, (2, 3, 8, 8), dtype=torch.uint8)
    ref = TF.normalize(images.float() / 255, list(IMAGENET_MEAN), list(IMAGENET_STD))
    torch.testing.assert_close(normalise_uint8(images, IMAGENET_MEAN, IMAGENET_STD), ref)
    nhwc = images.permute(0, 2, 3, 1).contiguous()
    out = normalise_uint8(nhwc, IMAGENET_MEAN, IMAGENET_STD, channels_last=True)
    torch.testing.assert_close(out, ref)
    assert out.is_contiguous(memory_format=torch.channels_last)


def test_augment_keeps_shape_and_can_flip() -> None:
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).reshape(2, 3, 8, 8)
    torch.manual_seed(0)
    out = augment(x, min_scale=1.0)  # no zoom, no shift: identity or mirror image
    assert out.shape == x.shape
    for i in range(2):
        same, flipped = torch.allclose(out[i], x[i]), torch.allclose(out[i], x[i].flip(-1))
        assert same or flipped


def test_sampler_permutes_per_epoch_shards_and_resumes() -> None:
    s = EpochBatchSampler(103, 10, shuffle=True, seed=1)
    e0 = [i for b in s for i in b]
    assert len(set(e0)) == len(e0) == 100 and len(s) == 10  # the partial last batch is dropped
    s.set_epoch(1)
    e1 = [i for b in s for i in b]
    assert len(set(e1)) == 100 and set(e1) != set(e0)  # another epoch drops other images
    s.set_epoch(0)
    assert [i for b in s for i in b] == e0  # seeded: same epoch, same order
    ranks = [EpochBatchSampler(103, 10, True, 1, num_replicas=2, rank=r) for r in (0, 1)]
    parts = [[i for b in r for i in b] for r in ranks]
    assert len(parts[0]) == len(parts[1]) == 50 and not set(parts[0]) & set(parts[1])
    resumed = EpochBatchSampler(103, 10, True, 1, position=lambda: (0, 4))
    assert list(resumed) == list(EpochBatchSampler(103, 10, True, 1))[4:]


def test_splits_fall_back_to_a_seeded_split_and_drop_corrupt_rows() -> None:
    n = 50
    table = pd.DataFrame({"image_id": [f"{i}.jpg" for i in range(n)], "partition": -1})
    for name in ATTRIBUTE_NAMES:
        table[name] = np.uint8(0)
    valid = np.ones(n, bool)
    valid[3] = False
    splits = make_splits(table, ["Smiling"], seed=0, valid=valid)
    assert sum(splits.counts.values()) == n - 1 and splits.counts["val"] in (4, 5)
    assert 3 not in np.concatenate(list(splits.rows.values()))
    assert splits.partition_source.startswith("seeded_split") and "seeded" in splits.notes[0]
    again = make_splits(table, ["Smiling"], seed=0, valid=valid)
    assert all((again.rows[k] == splits.rows[k]).all() for k in splits.rows)


def test_positive_weights_are_neg_over_pos() -> None:
    labels = np.array([[1, 0, 1], [0, 0, 1], [0, 0, 1], [0, 0, 0]], np.uint8)
    np.testing.assert_allclose(positive_weights(labels), [3.0, 1.0, 1 / 3], rtol=1e-6)


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_every_architecture_gives_one_logit_per_attribute(arch: str) -> None:
    model = build_model(arch, 3).eval()
    with torch.no_grad():
        assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 3)


def test_unknown_architecture_suggests_the_closest() -> None:
    with pytest.raises(CelebalabError, match="resnet18"):
        build_model("resnet_18", 2)


def test_pretrained_weights_load_except_the_head(tmp_path) -> None:
    import torchvision

    imagenet = torchvision.models.resnet18(weights=None)
    path = tmp_path / "r18.pth"
    torch.save(imagenet.state_dict(), path)
    model = build_model("resnet18", 40)
    missing, unexpected = load_pretrained(model, path)
    assert set(missing) == {"fc.weight", "fc.bias"} and set(unexpected) == set(missing)
    torch.testing.assert_close(model.conv1.weight, imagenet.conv1.weight)
    (tmp_path / "bad.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match=r"bad\.pth"):
        load_pretrained(model, tmp_path / "bad.pth")
    with pytest.raises(WeightsError, match="not found"):
        load_pretrained(model, tmp_path / "absent.pth")


def _config() -> dict:
    return {
        "arch": "small_cnn",
        "task": "attributes",
        "attribute_names": ["Smiling", "Male"],
        "image_size": 32,
        "crop": "center",
        "normalisation": {"mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD), "scale": 255},
        "thresholds": {"Smiling": 0.3, "Male": 0.7},
    }


def test_run_round_trip_reproduces_the_model(tmp_path) -> None:
    torch.manual_seed(0)
    model = build_model("small_cnn", 2).eval()
    save_run(tmp_path, model, _config())
    run = load_run(tmp_path)
    assert not run.model.training and run.image_size == 32
    assert run.attribute_names == ["Smiling", "Male"]
    np.testing.assert_allclose(run.thresholds, [0.3, 0.7])
    images = torch.randint(0, 256, (3, 32, 32, 3), dtype=torch.uint8)
    with torch.no_grad():
        ref = torch.sigmoid(model(normalise_uint8(images, IMAGENET_MEAN, IMAGENET_STD)))
    np.testing.assert_allclose(predict_proba(run, images), ref.numpy(), rtol=1e-5, atol=1e-6)
    assert json.loads((tmp_path / "run.json").read_text())["format_version"] == FORMAT_VERSION


def test_bad_run_directories_give_clear_errors(tmp_path) -> None:
    with pytest.raises(RunDirError, match="not found"):
        load_run(tmp_path / "absent")
    with pytest.raises(RunDirError, match=r"run\.json: missing"):
        load_run(tmp_path)
    save_run(tmp_path, build_model("small_cnn", 2), _config())
    run_json = tmp_path / "run.json"
    text = run_json.read_text()
    run_json.write_text(text.replace(f'"format_version": {FORMAT_VERSION}', '"format_version": 99'))
    with pytest.raises(RunDirError, match="format 99"):
        load_run(tmp_path)
    run_json.write_text(text[:40])
    with pytest.raises(CelebalabError, match=r"run\.json:\d+: corrupt"):
        load_run(tmp_path)
    run_json.write_text(text)
    (tmp_path / "model.pt").write_bytes(b"\0" * 10)
    with pytest.raises(RunDirError, match=r"model\.pt: corrupt"):
        load_run(tmp_path)


def test_shuffled_epoch_never_ends_on_a_single_image():
    from celebalab.models.data import EpochBatchSampler

    sampler = EpochBatchSampler(65, 32, shuffle=True, seed=1)
    batches = list(sampler)
    assert [len(b) for b in batches] == [32, 32] and len(sampler) == 2
    assert len({i for b in batches for i in b}) == 64
    assert [len(b) for b in EpochBatchSampler(20, 32, shuffle=True)] == [20]  # the only batch
    assert [len(b) for b in EpochBatchSampler(65, 32, shuffle=False)] == [32, 32, 1]


def test_one_epoch_order_for_classifiers_and_the_gan():
    from celebalab.generate._data import batch_rows, steps_per_epoch
    from celebalab.models.data import EpochBatchSampler

    for rank in (0, 1):
        sampler = EpochBatchSampler(103, 10, True, seed=7, num_replicas=2, rank=rank)
        sampler.set_epoch(3)
        steps = steps_per_epoch(103, 10, world_size=2)
        gan = [batch_rows(np.arange(103), 7, 3, step, 10, rank, 2) for step in range(steps)]
        assert [sorted(b) for b in sampler] == [b.tolist() for b in gan] and steps == len(sampler)


@pytest.mark.parametrize("steps", [1, 2, 4, 5])
def test_one_cycle_schedule_of_a_very_short_run_steps_through(steps: int) -> None:
    module = AttributeClassifier(
        "small_cnn", ["Smiling"], (0.5,) * 3, (0.5,) * 3, lr=1e-3, total_steps=steps
    )
    sched = module.configure_optimizers()["lr_scheduler"]["scheduler"]
    for _ in range(steps):
        sched.optimizer.step()
        sched.step()  # torch divides by zero here when the warm-up phase is empty
    assert 0 < sched.get_last_lr()[0] <= 1e-3


def test_train_help_states_the_real_defaults() -> None:
    """The defaults quoted in ``celebalab train --help`` are those ``train`` applies (both come
    from ``TrainConfig``'s fields: :func:`celebalab.cli_options.with_options`)."""
    import re
    from typing import get_type_hints

    from celebalab.models._train import DEFAULTS
    from celebalab.models.cli import train_command

    hints = get_type_hints(train_command, include_extras=True)
    for key in ("size", "epochs", "batch_size", "lr", "focal_gamma", "patience",
                "checkpoint_every"):  # fmt: skip
        help_text = hints[key].__metadata__[0].help
        quoted = re.search(r"\[default: ([0-9][0-9.e-]*)\]", help_text)
        assert quoted, (key, help_text)
        assert float(quoted.group(1)) == DEFAULTS[key], (key, help_text)


def test_checkpoint_state_follows_a_moved_run_folder(tmp_path) -> None:
    """Lightning forgets the best score of a moved run; the relocatable callback rebases it."""
    import warnings

    from lightning.pytorch.callbacks import ModelCheckpoint

    from celebalab.models._trainer import RelocatableCheckpoint

    before, after = tmp_path / "a" / "checkpoints", tmp_path / "b" / "checkpoints"
    saved = ModelCheckpoint(dirpath=before, monitor="val_loss", save_top_k=1)
    saved.best_model_score = torch.tensor(0.25)
    saved.best_model_path = saved.kth_best_model_path = str(before / "best-epoch=001.ckpt")
    saved.best_k_models = {saved.best_model_path: torch.tensor(0.25)}
    saved.last_model_path = str(before / "last.ckpt")
    state = saved.state_dict()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = ModelCheckpoint(dirpath=after, monitor="val_loss", save_top_k=1)
        plain.load_state_dict(dict(state))
    assert plain.best_model_score is None  # the behaviour that made moved runs diverge
    moved = RelocatableCheckpoint(dirpath=after, monitor="val_loss", save_top_k=1)
    moved.load_state_dict(dict(state))
    assert float(moved.best_model_score) == 0.25
    assert moved.best_model_path == str(after / "best-epoch=001.ckpt")
    assert list(moved.best_k_models) == [moved.best_model_path]
    assert moved.last_model_path == str(after / "last.ckpt")
