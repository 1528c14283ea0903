"""Counterfactual pairs from ``data synth --pairs`` and pair decisions on any embedding module."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from torch import nn

from celebalab.datasets.schema import MASK_CLASS_VALUES
from celebalab.models.run import LoadedRun


@pytest.fixture(scope="module")
def paired(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from celebalab.datasets.synth import generate

    out = tmp_path_factory.mktemp("pairs") / "out"
    generate(
        out, 60, seed=2, n_hq=4, workers=1, pairs=("Eyeglasses", "Smiling"), pairs_per_attribute=4
    )
    return out / "CelebA"


def test_counterfactuals_change_only_the_flipped_attributes_pixels(paired: Path) -> None:
    folder = paired / "synthetic_pairs"
    pairs = pd.read_csv(folder / "pairs.csv")
    assert len(pairs) == 8 and set(pairs["attribute"]) == {"Eyeglasses", "Smiling"}
    truth = pd.read_parquet(paired / "synthetic_truth.parquet").set_index("image_id")
    assert (truth.loc[pairs["image_id"], "partition"] == 2).all()  # test faces only
    glasses = MASK_CLASS_VALUES["eye_g"]
    for row in pairs.itertuples():
        changed = np.asarray(Image.open(folder / row.changed_mask)) > 0
        assert changed.sum() == row.changed_pixels > 0
        before = np.asarray(
            Image.open(paired / "synthetic_label_maps" / row.image_id.replace("jpg", "png"))
        )
        after = np.asarray(Image.open(folder / row.pair_labels))
        assert not ((before != after) & ~changed).any()
        if row.attribute == "Eyeglasses":
            added = after if row.direction == "add" else before
            assert (added == glasses).any() and changed[added == glasses].all()
        assert changed.mean() < 0.1  # one region, not the whole face


class TinyEmbedder(nn.Module):
    """An image → vector module without a classifier head (like an identity model's output)."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(8, 16, 3, stride=2, padding=1),
            nn.ReLU(),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.features(x)).flatten(1)


def test_pair_decisions_on_counterfactual_pairs(paired: Path, tmp_path: Path) -> None:
    from celebalab.explain.falsification import FalsificationSettings
    from celebalab.explain.runner import ExplainConfig, run_explain

    torch.manual_seed(0)
    config = {
        "arch": "tiny",
        "task": "identity",
        "attribute_names": [],
        "image_size": 32,
        "crop": "center",
        "thresholds": {},
        "normalisation": {"mean": [0.5] * 3, "std": [0.25] * 3, "scale": 255},
    }
    run = LoadedRun(
        run_dir=tmp_path / "run", config=config, model=TinyEmbedder().eval(), image_size=32
    )
    cfg = ExplainConfig(
        methods=("ig", "gradcam", "random"),
        n=20,
        samples=1,
        falsification=FalsificationSettings(draws=2, steps=2),
    )
    result = run_explain(run, paired, tmp_path / "out", config=cfg)
    assert result.pairs.source.startswith("synthetic counterfactual")
    assert result.pairs.n == 8
    frame = pd.read_parquet(tmp_path / "out" / "per_image.parquet")
    assert set(frame["decision"]) == {"pair"} and sorted(set(frame["pair_kind"])) == [
        "Eyeglasses",
        "Smiling",
    ]
    assert frame["area"].between(0, 0.2).all() and frame["area"].gt(0).all()
    assert np.isfinite(frame.loc[frame["method"] == "random", "regional_precision"]).all()
    assert (tmp_path / "out" / "report.html").stat().st_size > 10_000
    # resume: a second call with the same configuration reuses every checkpoint
    again = run_explain(run, paired, tmp_path / "out", config=cfg)
    first, second = (r.per_decision["pair"]["ig"]["regional_precision"] for r in (result, again))
    assert first["mean"] == second["mean"] and first["n"] == second["n"] == 8


@pytest.mark.slow
def test_pairs_explained_for_a_trained_identity_run(paired: Path, tmp_path: Path) -> None:
    """A real ``train --task identity`` run directory goes through the same pair path."""
    from celebalab.datasets.synth import generate
    from celebalab.explain.runner import ExplainConfig, run_explain
    from celebalab.models import train

    people = generate(tmp_path / "people", 120, seed=1, n_hq=0, images_per_identity=4.0,
                      workers=1).celeba_root  # fmt: skip
    run_dir = tmp_path / "identity"
    train(people, run_dir,
          task="identity", arch="small_cnn", size=32, epochs=1, batch_size=16,
          embedding_dim=8)  # fmt: skip
    cfg = ExplainConfig(methods=("saliency", "random"), n=8, samples=1)
    result = run_explain(run_dir, paired, tmp_path / "out", config=cfg)
    assert result.pairs.n == 8
    frame = pd.read_parquet(tmp_path / "out" / "per_image.parquet")
    assert set(frame["decision"]) == {"pair"}
    assert np.isfinite(frame["regional_precision"]).all()


def test_a_pair_whose_second_face_is_unreadable_is_dropped_not_shifted() -> None:
    """Label pairs read their second images in batches that skip unreadable files: the pair of a
    skipped image is dropped, and every other pair keeps its own partner's embedding."""
    from types import SimpleNamespace

    from celebalab.explain._selection import PairSet
    from celebalab.explain.runner import _Work
    from celebalab.models.inference import ImageBatch

    side = 4

    def batches(rows):  # row 7 is unreadable; each image's pixels hold its row number
        kept = np.array([r for r in rows if r != 7], np.int64)
        images = torch.from_numpy(np.repeat(kept, 3 * side * side).astype(np.uint8)
                                  .reshape(-1, 3, side, side))  # fmt: skip
        return [ImageBatch(images=images, rows=kept, image_ids=[str(r) for r in kept])]

    identity = SimpleNamespace(mean=[0.0] * 3, std=[1 / 255] * 3)  # model input = the pixels
    run = SimpleNamespace(image_size=side, device=torch.device("cpu"),
                          record=SimpleNamespace(normalisation=identity))  # fmt: skip
    work = SimpleNamespace(_batches=batches, run=run)
    decision = SimpleNamespace(embed=lambda x: x.mean(dim=(1, 2, 3))[:, None])
    pairs = PairSet(first_rows=np.array([1, 2, 3]), second_rows=np.array([5, 7, 9]),
                    second_files=None, masks=None, kinds=list("abc"), source="t")  # fmt: skip
    (embedded,), keep = _Work._extra(work, decision, pairs, np.array([0, 1, 2]))
    assert keep.tolist() == [True, False, True]
    assert embedded[:, 0].tolist() == [5.0, 9.0]
