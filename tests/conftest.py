"""Shared fixtures: a small synthetic CelebA + CelebAMask-HQ written once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

SYNTH_N, SYNTH_N_HQ, SYNTH_SEED = 120, 40, 0


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """OUT of ``generate(n=120, n_hq=40, seed=0)`` (default sizes): CelebA/, CelebAMask-HQ/."""
    from celebalab.datasets.synth import generate

    out = tmp_path_factory.mktemp("synth") / "out"
    generate(out, SYNTH_N, seed=SYNTH_SEED, n_hq=SYNTH_N_HQ, workers=1)
    return out


@pytest.fixture(scope="session")
def synthetic_embedding_set(synth_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An embedding set (person-clustered random vectors, dim 32) of ``synth_root``'s CelebA."""
    from celebalab.datasets.table import load_table
    from celebalab.explorer.synthetic import write_synthetic_set

    table = load_table(synth_root / "CelebA")
    out = tmp_path_factory.mktemp("embeddings") / "synthetic"
    write_synthetic_set(out, table, dim=32, seed=0, images=table.attrs["image_dir"])
    return out
