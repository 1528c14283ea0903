"""Names users read: deprecated aliases still work (and warn); reports open with a summary."""

from __future__ import annotations

import pytest

from celebalab.reports.html import Report


def test_report_summary_comes_before_the_first_section() -> None:
    report = Report("t", summary="What was measured. What it means.")
    report.section("Tables").text("x")
    page = report.render()
    assert page.index('class="summary"') < page.index("<h2>Tables</h2>")


def test_renamed_region_groups_keep_a_deprecated_alias() -> None:
    from celebalab import explain
    from celebalab.explain.regions import ANALYSIS_REGION_GROUPS

    with pytest.warns(DeprecationWarning, match="ANALYSIS_REGION_GROUPS"):
        assert explain.SEED_REGION_GROUPS is ANALYSIS_REGION_GROUPS
    assert "SEED_REGION_GROUPS" not in explain.__all__


def test_renamed_statistics_names_keep_deprecated_aliases() -> None:
    from celebalab.analysis import _notebook_reference as notebook_reference
    from celebalab.analysis import _seed_reference as seed_reference
    from celebalab.analysis._predictability import random_split, seed_split

    assert seed_split is random_split
    with pytest.warns(DeprecationWarning):
        old = seed_reference.seed_conditional_probabilities
    assert old is notebook_reference.notebook_conditional_probabilities
