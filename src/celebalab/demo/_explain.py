"""The ``make demo`` explain stage: a short explain run on the demo's trained attribute model.

Small on purpose (≤ ~60 s on 2 CPU cores): two drawn small-region attributes, eight images
each, every method with reduced perturbation counts, a few label-chosen pairs. The numbers it
prints are this tiny run's, not a benchmark of the methods.
"""

from __future__ import annotations

from pathlib import Path

from celebalab.errors import CelebalabError
from celebalab.reports.html import Report

DEMO_ATTRIBUTES: tuple[str, ...] = ("Eyeglasses", "Smiling")


def demo_explain(run_dir: Path, root: Path, out: Path, *, n: int = 8, seed: int = 0):
    """Explain the demo run on the synthetic CelebA root into ``out``; return the result (or,
    when the data holds nothing to explain, the reason as text)."""
    from celebalab.explain import (
        AttributionSettings,
        ExplainConfig,
        FalsificationSettings,
        run_explain,
    )
    from celebalab.models.run import read_run_record

    predicted = read_run_record(run_dir).attribute_names
    config = ExplainConfig(
        attributes=tuple(a for a in DEMO_ATTRIBUTES if a in predicted),
        n=n,
        pairs=True,
        batch_size=n,
        seed=seed,
        samples=2,
        attribution=AttributionSettings(
            ig_steps=8, gradshap_samples=4, shap_samples=32, lime_samples=32
        ),
        falsification=FalsificationSettings(draws=2, steps=4, seed=seed),
    )
    try:
        return run_explain(run_dir, root, out, config=config, overwrite=True)
    except CelebalabError as err:  # a tiny demo may have no test face with glasses: say so
        return str(err)


def demo_report(result) -> Report:
    """The explain report's sections (or why there are none), for the demo report to append."""
    from celebalab.explain.report import build_explain_report

    if isinstance(result, str):
        report = Report("celebalab explain")
        report.section("Explainability").text(
            f"The explain stage found nothing to explain: {result}"
        )
        return report
    return build_explain_report(result, result.outputs)
