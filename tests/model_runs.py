"""Untrained run directories for the classifier tests (inference speed and plumbing do not
depend on the weights)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from celebalab.datasets.schema import ATTRIBUTE_NAMES
from celebalab.models.architectures import IMAGENET_MEAN, IMAGENET_STD, build_model
from celebalab.models.run import LoadedRun, load_run, save_run


def run_config(arch: str = "small_cnn", size: int = 32, root: Path | None = None) -> dict[str, Any]:
    """A ``run.json`` body for all 40 attributes, default thresholds, ImageNet normalisation."""
    return {
        "arch": arch,
        "task": "attributes",
        "attribute_names": list(ATTRIBUTE_NAMES),
        "image_size": size,
        "crop": "center",
        "normalisation": {"mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD), "scale": 255},
        "thresholds": {},
        "data": {"root": str(root) if root else ""},
    }


def save_untrained_run(run_dir: Path, root: Path | None = None, size: int = 32) -> LoadedRun:
    """Write a seeded, untrained small_cnn run into ``run_dir`` and load it back."""
    torch.manual_seed(0)
    model = build_model("small_cnn", len(ATTRIBUTE_NAMES)).eval()
    save_run(run_dir, model, run_config(size=size, root=root))
    return load_run(run_dir)
