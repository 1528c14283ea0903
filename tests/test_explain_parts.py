"""Falsification against a per-image loop, statistics against scipy, region tables, CLI errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn

from celebalab.errors import CelebalabError, DataFormatError
from celebalab.explain._statistics import correlations, mean_ci
from celebalab.explain.falsification import FalsificationSettings, falsify
from celebalab.explain.regions import expand_region, load_region_table


class RegionSum(nn.Module):
    """Score = mean of the first channel inside a fixed box: the box is where the decision is."""

    def __init__(self, box: np.ndarray) -> None:
        super().__init__()
        self.box = torch.as_tensor(box, dtype=torch.float32)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x[:, 0] * self.box).sum((1, 2)) / self.box.sum()


@pytest.fixture()
def setup():
    box = np.zeros((10, 10), bool)
    box[2:5, 3:7] = True
    x = np.random.default_rng(0).uniform(1, 2, (3, 3, 10, 10))
    x[:, :, box] += 2  # the evidence: bright pixels in the box; any fill lowers the score
    return RegionSum(box), torch.as_tensor(x, dtype=torch.float32), box


def test_falsification_passes_a_faithful_map_and_falsifies_a_wrong_one(setup) -> None:
    decision, x, box = setup
    faithful = np.broadcast_to(box + 0.01 * np.arange(100).reshape(10, 10), (3, 10, 10))
    wrong = np.broadcast_to(~box + 0.01 * np.arange(100).reshape(10, 10), (3, 10, 10))
    settings = FalsificationSettings(top_fraction=0.1, fill="mean", draws=5, steps=4)
    good = falsify(decision, x, faithful, curve=lambda s: s, settings=settings)
    bad = falsify(decision, x, wrong, curve=lambda s: s, settings=settings)
    assert not good.falsified.any() and bad.falsified.all()
    assert (good.deletion_auc < bad.deletion_auc).all()
    assert (good.insertion_auc > bad.insertion_auc).all()
    # the explanation's drop, recomputed image by image with plain numpy (mean-colour fill)
    for i in range(3):
        img = x[i].numpy().copy()
        top = np.argsort(-faithful[i].ravel(), kind="stable")[:10]
        filled = img.copy().reshape(3, -1)
        filled[:, top] = img.reshape(3, -1).mean(1, keepdims=True)
        expect = (img[0] * box).sum() / box.sum() - (
            filled[0].reshape(10, 10) * box
        ).sum() / box.sum()
        assert good.drop_explanation[i] == pytest.approx(expect, abs=1e-5)
    assert good.deletion.shape == (3, 5) and good.deletion[:, 0] == pytest.approx(
        decision(x).numpy(), abs=1e-6
    )


@pytest.mark.parametrize("fill", ["blur", "inpaint"])
def test_other_fills_give_finite_drops(setup, fill: str) -> None:
    decision, x, _ = setup
    maps = np.random.default_rng(1).random((3, 10, 10))
    out = falsify(decision, x, maps, settings=FalsificationSettings(fill=fill, draws=2, steps=2))
    assert np.isfinite(out.drop_explanation).all() and out.falsified.dtype == bool


def test_bad_falsification_options_are_clear_errors() -> None:
    with pytest.raises(CelebalabError, match="--fr-fill"):
        FalsificationSettings(fill="zeros")
    with pytest.raises(CelebalabError, match="--fr-q"):
        FalsificationSettings(top_fraction=1.5)


def test_statistics_match_scipy() -> None:
    rng = np.random.default_rng(2)
    v = rng.normal(0.3, 0.1, 80)
    got = mean_ci(v, seed=4)
    ref = stats.bootstrap(
        (v,), np.mean, n_resamples=2000, method="percentile", rng=np.random.default_rng(4)
    ).confidence_interval
    assert got["mean"] == pytest.approx(v.mean()) and got["n"] == 80
    assert (got["ci_low"], got["ci_high"]) == pytest.approx((ref.low, ref.high))
    assert np.isnan(mean_ci(np.array([np.nan]))["mean"])
    x = rng.normal(size=30)
    y = -x + rng.normal(0, 0.5, 30)
    c = correlations(x, y)
    pr = stats.pearsonr(x, y)
    assert c["pearson_r"] == pytest.approx(pr.statistic)
    assert (c["pearson_ci_low"], c["pearson_ci_high"]) == pytest.approx(
        tuple(pr.confidence_interval())
    )
    assert c["spearman_rho"] == pytest.approx(stats.spearmanr(x, y).statistic)
    assert c["spearman_ci_low"] <= c["spearman_rho"] <= c["spearman_ci_high"]


def test_region_tables_by_name_from_json_and_yaml(tmp_path: Path) -> None:
    assert expand_region(["eyes"]) == ("eye_g", "l_eye", "r_eye", "l_brow", "r_brow")
    assert expand_region(["mouth"]) == ("mouth", "u_lip", "l_lip")
    (tmp_path / "r.json").write_text(json.dumps({"Smiling": ["mouth"], "Eyeglasses": ["eye_g"]}))
    assert load_region_table(tmp_path / "r.json") == {
        "Smiling": ("mouth", "u_lip", "l_lip"),
        "Eyeglasses": ("eye_g",),
    }
    (tmp_path / "r.yaml").write_text("Bangs: [hair]\n")
    assert load_region_table(tmp_path / "r.yaml") == {"Bangs": ("hair",)}
    (tmp_path / "bad.yaml").write_text("Smilin: [mouth]\n")
    with pytest.raises(DataFormatError, match=r"bad\.yaml.*Smiling"):
        load_region_table(tmp_path / "bad.yaml")
    (tmp_path / "bad2.json").write_text('{"Smiling": ["mouht"]}')
    with pytest.raises(DataFormatError, match="mouth"):
        load_region_table(tmp_path / "bad2.json")


def test_cli_errors_are_one_line(tmp_path: Path, capsys) -> None:
    from celebalab.cli import main

    (tmp_path / "fr.csv").write_text("method,fr\ngradcam,1.4\n")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "x").write_text("keep me")
    cases = [
        (["--methods", "gradcm"], "gradcam"),
        (["--fr-fill", "zeros"], "--fr-fill"),
        (["--fr-table", str(tmp_path / "fr.csv")], "fr.csv:2"),
        ([], "--overwrite"),
    ]
    for extra, expected in cases:
        code = main(
            [
                "explain",
                str(tmp_path / "run"),
                str(tmp_path),
                "--out",
                str(tmp_path / "out"),
                *extra,
            ]
        )
        err = capsys.readouterr().err.strip()
        assert code == 2 and expected in err and len(err.splitlines()) == 1, err
    assert (tmp_path / "out" / "x").read_text() == "keep me"
