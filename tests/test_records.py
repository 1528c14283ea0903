"""Typed run records read files written before they existed (the old shapes, by hand), keep the
keys they do not declare, and write back what they read."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from celebalab.datasets.schema import ATTRIBUTE_NAMES
from celebalab.models.architectures import IMAGENET_MEAN, IMAGENET_STD, build_model
from celebalab.models.records import ClassifierRun, ImportedRun, model_record
from celebalab.models.run import load_run, read_run_record

#: A run.json as ``celebalab train`` wrote it before the records (no ``kind``, no alignment,
#: a training block without the later keys, and a key no record declares).
OLD_RUN = {
    "format_version": 1,
    "celebalab_version": "0.0.9",
    "arch": "small_cnn",
    "task": "attributes",
    "attribute_names": list(ATTRIBUTE_NAMES),
    "image_size": 32,
    "crop": "center",
    "normalisation": {"mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD), "scale": 255},
    "thresholds": dict.fromkeys(ATTRIBUTE_NAMES, 0.4),
    "threshold_metric": "balanced_accuracy",
    "data": {"root": "/data/CelebA", "fingerprint": "ab" * 32,
             "counts": {"train": 8, "val": 2, "test": 2}, "partition_source": "partition file"},
    "training": {"epochs": 3, "epochs_run": 3, "batch_size": 16, "lr": 0.003, "seed": 7,
                 "seconds": 12.5, "images_per_second": 40.0},
    "train_config": {"root": "/data/CelebA", "epochs": 3, "size": 32, "seed": 7},
    "metrics": {"val": {"mean_balanced_accuracy": 0.61, "loss": 0.52}},
    "legacy_note": "kept",
}  # fmt: skip


def test_an_old_classifier_run_opens_as_a_typed_record(tmp_path: Path) -> None:
    run_dir = tmp_path / "old"
    run_dir.mkdir()
    (run_dir / "run.json").write_text(json.dumps(OLD_RUN))
    torch.save(build_model("small_cnn", len(ATTRIBUTE_NAMES)).state_dict(), run_dir / "model.pt")
    record = read_run_record(run_dir)
    assert isinstance(record, ClassifierRun) and not record.imported
    assert record.training.seed == 7 and record.split_seed == 7 and record.training.epochs == 3
    assert record.train_config.size == 32 and record.train_config.arch == "small_cnn"
    assert record.data.counts["train"] == 8 and record.val_metrics["loss"] == 0.52
    assert record.alignment is None and record.extra == {"legacy_note": "kept"}
    written = record.to_json()
    assert written["legacy_note"] == "kept" and "alignment" not in written and "kind" not in written
    run = load_run(run_dir)
    assert run.record == record and run.thresholds[0] == 0.4 and run.task == "attributes"


def test_an_imported_run_reads_as_imported() -> None:
    config = {**OLD_RUN, "kind": "imported", "channels": "bgr", "arch": "imported-onnx",
              "source": {"format": "onnx", "file": "model.onnx", "input_name": "x"}}  # fmt: skip
    imported = model_record(config)
    assert isinstance(imported, ImportedRun) and imported.imported
    assert imported.source.format == "onnx" and imported.channels == "bgr"
    assert imported.split_seed == 0 and model_record(OLD_RUN).split_seed == 7
    # optional keys stay absent; those with a default are written with it
    assert imported.to_json()["source"] == {**config["source"], "layout": "nchw"}


def test_an_old_gan_run_and_explain_result_read(tmp_path: Path) -> None:
    from celebalab.explain.summary import ExplainResult
    from celebalab.generate.records import GanRun

    gan = {
        "format_version": 1, "celebalab_version": "0.0.9", "kind": "gan",
        "arch": "dcgan32_seed", "image_size": 32, "crop": "center", "noise_dim": 100,
        "conditional": ["Smiling"],
        # saved before --augment and --spectral-norm existed: they read as "off"
        "config": {"size": 32, "epochs": 2, "conditional": ["Smiling"], "seed": 3},
        "data": {"root": "/data", "fingerprint": "f", "counts": {"train": 77}},
        "training": {"steps": 8, "epochs_run": 2, "seconds": 1.0},
        "warnings": [],
    }  # fmt: skip
    run = GanRun.from_json(gan)
    assert run.config.augment == () and run.config.spectral_norm is False
    assert run.config.conditional == ("Smiling",) and run.training.stopped_by is None
    assert "stopped_by" not in run.to_json()["training"]
    old = {"run": "runs/a", "root": "data", "synthetic": True, "config": {"n": 8},
           "methods": {"center": {"regional_precision": {"mean": 0.2}}},
           "fr_vs_precision": {"across_methods": {"n": 1}, "per_image": {"n": 8}},
           "pairs": {"source": None, "n": 0}, "skipped": []}  # fmt: skip
    result = ExplainResult.from_json(old)
    assert result.config.n == 8 and result.methods["center"]["regional_precision"]["mean"] == 0.2
    assert result.fr_vs_precision.per_image["n"] == 8 and result.pairs.n == 0
