"""Run directories and embedding sets for the embedding/retrieval tests (a helper module).

An untrained, seeded network is enough to test extraction, storage and search: the code paths
and their agreement with reference implementations do not depend on what the weights learned.
"""

from __future__ import annotations

from pathlib import Path

import torch

from celebalab.datasets.schema import ATTRIBUTE_NAMES

SIZE = 32


def make_attribute_run(run_dir: Path, arch: str = "small_cnn", size: int = SIZE) -> Path:
    """A run directory holding an untrained 40-attribute classifier (seeded)."""
    from celebalab.models.architectures import IMAGENET_MEAN, IMAGENET_STD, build_model
    from celebalab.models.run import save_run

    torch.manual_seed(0)
    config = {
        "arch": arch, "task": "attributes", "attribute_names": list(ATTRIBUTE_NAMES),
        "image_size": size, "crop": "center",
        "normalisation": {"mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD), "scale": 255},
        "thresholds": dict.fromkeys(ATTRIBUTE_NAMES, 0.5), "data": {"root": ""},
    }  # fmt: skip
    save_run(run_dir, build_model(arch, len(ATTRIBUTE_NAMES)).eval(), config)
    return run_dir


def extracted_set(base: Path, celeba_root: Path) -> Path:
    """``base/emb``: every image of ``celeba_root`` through an untrained attribute run."""
    from celebalab.embeddings.extract import extract_embeddings

    run = make_attribute_run(base / "run")
    extract_embeddings(run, celeba_root, base / "emb")
    return base / "emb"
