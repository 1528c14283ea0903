"""``stats`` end to end: output files, JSON summary, HTML report, the CLI and its errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from celebalab.analysis import build_stats_report, compute_stats, run_stats, write_stats
from celebalab.cli import main
from test_stats_inputs import attribute_frame

EXPECTED_FILES = {
    "frequencies.csv",
    "conditional_probability.csv",
    "phi.csv",
    "lift.csv",
    "top_pairs.csv",
    "predictability_random_split.csv",
    "predictability_official.csv",
    "clusters_sweep.csv",
    "cluster_profiles.csv",
    "centroid_distances.csv",
    "cluster_assignments.parquet",
    "summary.json",
    "report.html",
}


@pytest.mark.slow
def test_outputs_summary_and_report(tmp_path: Path) -> None:
    frame = attribute_frame(400, seed=7)
    frame["Bald"] = 0  # single class: undefined metrics must show as such
    result = run_stats(frame, tmp_path, ks=(2, 3), sample=200, tsne=False, images=False)
    assert {p.name for p in tmp_path.iterdir()} == EXPECTED_FILES
    cond = pd.read_csv(tmp_path / "conditional_probability.csv", index_col=0)
    np.testing.assert_allclose(cond.to_numpy(), result.associations.conditional.to_numpy())
    seed = pd.read_csv(tmp_path / "predictability_random_split.csv", index_col=0)
    assert np.isnan(seed.loc["Bald", "precision"]) and seed.loc["Bald", "baseline_accuracy"] == 1
    assignments = pd.read_parquet(tmp_path / "cluster_assignments.parquet")
    assert len(assignments) == 400 and assignments["in_sample"].sum() == 200
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["dataset"]["rows"] == 400
    assert summary["frequencies"]["single_class"] == ["Bald"]
    assert summary["predictability"]["random_split"]["per_attribute"]["Bald"]["roc_auc"] is None
    assert summary["predictability"]["official"]["n_test"] == (frame.partition == 2).sum()
    assert summary["clustering"]["k"] == result.clustering.k
    # Bald has no model: the baseline is averaged over the attributes the accuracy covers.
    means = summary["predictability"]["random_split"]["mean_over_defined"]
    fitted = seed["accuracy"].notna()
    assert not fitted["Bald"] and fitted.sum() == 39
    assert means["baseline_accuracy"] == pytest.approx(seed.loc[fitted, "baseline_accuracy"].mean())
    assert means["accuracy"] - means["baseline_accuracy"] == pytest.approx(
        means["gain_over_baseline"]
    )
    html = (tmp_path / "report.html").read_text()
    for title in (
        "Attribute frequencies",
        "Co-occurrence",
        "Predictability (random 80/20 split)",
        "Predictability (official partition)",
        "Clusters of attribute vectors",
    ):
        assert title in html
    assert "undefined" in html and html.count("data:image/png;base64,") >= 9
    assert "http://" not in html and "https://" not in html  # opens offline


@pytest.mark.slow
def test_one_partition_skips_the_official_protocol(tmp_path: Path) -> None:
    frame = attribute_frame(300)
    result = compute_stats(frame, partition="train", ks=(2,), sample=100, tsne=False)
    assert result.dataset["rows"] == 210
    assert result.predictability["official"].table is None
    assert any("official protocol skipped" in n for n in result.notes)
    write_stats(result, tmp_path)
    assert not (tmp_path / "predictability_official.csv").exists()
    html = (tmp_path / "report.html").read_text()
    assert "Skipped: the official test partition has no rows" in html
    assert build_stats_report(result).sections[3].title == "Predictability (official partition)"


@pytest.mark.slow
def test_cli_on_a_synthetic_celeba_root(synth_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "stats"
    code = main(
        [
            "stats",
            str(synth_root / "CelebA"),
            "--out",
            str(out),
            "--sample",
            "100",
            "--no-tsne",
            "--k",
            "3",
        ]
    )
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["dataset"]["rows"] == 120 and summary["clustering"]["k"] == 3
    html = (out / "report.html").read_text()
    assert "Sample images per cluster" in html


def test_cli_reports_bad_input_on_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["stats", str(tmp_path / "missing"), "--out", str(tmp_path / "o")])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err
