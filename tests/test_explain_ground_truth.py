"""Ground truth (issue item 8): a small CNN trained here on synthetic faces, explained on faces
whose causing region is known exactly. Grad-CAM and IG must put more of their mass in a small
drawn region than its area, with CIs apart; Random's CI must contain the area baseline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from celebalab.datasets.decode import load_resized
from celebalab.datasets.table import load_table
from celebalab.models.architectures import normalise_uint8
from celebalab.models.run import LoadedRun

SIZE = 64
ATTRIBUTES = ["Eyeglasses", "Wearing_Hat"]
NORM = {"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25], "scale": 255}


class TinyCNN(nn.Module):
    """Three stride-2 convolutions: an 8×8 last feature map at 64 px, so Grad-CAM can localise."""

    def __init__(self, outputs: int) -> None:
        super().__init__()
        layers, cin = [], 3
        for cout in (16, 32, 48):
            layers += [
                nn.Conv2d(cin, cout, 3, stride=2, padding=1),
                nn.BatchNorm2d(cout),
                nn.ReLU(),
            ]
            cin = cout
        self.features = nn.Sequential(*layers, nn.Conv2d(cin, cin, 3, padding=1), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(cin, outputs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.features(x)))


def _train(root: Path, tmp: Path) -> LoadedRun:
    table = load_table(root)
    images = np.stack(
        [load_resized(root / "img_align_celeba" / i, SIZE, "none") for i in table.image_id]
    )
    x = normalise_uint8(torch.from_numpy(images), NORM["mean"], NORM["std"])
    y = torch.tensor(table[ATTRIBUTES].to_numpy(), dtype=torch.float32)
    train = np.flatnonzero(table.partition.to_numpy() == 0)
    torch.manual_seed(0)
    net = TinyCNN(len(ATTRIBUTES))
    opt = torch.optim.AdamW(net.parameters(), 4e-3)
    pos_weight = (1 - y[train].mean(0)) / y[train].mean(0).clamp(min=1e-3)
    for epoch in range(10):
        net.train()
        for batch in np.array_split(
            np.random.default_rng(epoch).permutation(train), len(train) // 32
        ):
            loss = nn.functional.binary_cross_entropy_with_logits(
                net(x[batch]), y[batch], pos_weight=pos_weight
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.eval()
    config = {
        "arch": "tiny_test_cnn",
        "task": "attributes",
        "attribute_names": ATTRIBUTES,
        "image_size": SIZE,
        "crop": "none",
        "normalisation": NORM,
        "thresholds": dict.fromkeys(ATTRIBUTES, 0.5),
    }
    return LoadedRun(
        run_dir=tmp / "run",
        config=config,
        model=net,
        attribute_names=ATTRIBUTES,
        thresholds=np.full(len(ATTRIBUTES), 0.5, np.float32),
        image_size=SIZE,
    )


@pytest.mark.slow
def test_gradcam_and_ig_beat_the_area_baseline_and_random_does_not(tmp_path: Path) -> None:
    from celebalab.datasets.synth import generate
    from celebalab.explain.falsification import FalsificationSettings
    from celebalab.explain.runner import ExplainConfig, run_explain

    generate(tmp_path / "synth", 1000, seed=5, n_hq=8, workers=2, images_per_identity=5)
    root = tmp_path / "synth" / "CelebA"
    run = _train(root, tmp_path)
    config = ExplainConfig(
        methods=("gradcam", "ig", "random"),
        attributes=("Eyeglasses",),
        n=40,
        batch_size=40,
        samples=0,
        falsification=FalsificationSettings(draws=2, steps=2),
    )
    result = run_explain(run, root, tmp_path / "out", config=config)
    truth = result.ground_truth["Eyeglasses"]
    stats = result.per_decision["Eyeglasses"]
    area = stats["random"]["area"]["mean"]
    assert area < 0.1  # a small drawn region (the glasses' pixels)
    for method in ("gradcam", "ig"):
        assert truth[method]["above_area"], (method, truth[method])
    random = stats["random"]["regional_precision"]
    assert random["ci_low"] <= area <= random["ci_high"]
