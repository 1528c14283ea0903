"""Layering: shared helpers sit below the packages that use them, and no module pair imports
each other (checked in fresh interpreters, so earlier imports cannot hide a dependency)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).parents[1] / "src"


def _imported_after(statements: str) -> set[str]:
    code = f"import sys; {statements}; print('\\n'.join(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={"PYTHONPATH": str(SRC)}, check=True)  # fmt: skip
    return {name for name in done.stdout.split() if name.startswith("celebalab")}


def test_statistics_do_not_depend_on_the_classifier_package() -> None:
    loaded = _imported_after(
        "import numpy as np; from celebalab.analysis.runner import compute_stats; "
        "from celebalab.analysis._predictability import binary_metrics; "
        "binary_metrics(np.array([[0], [1], [1]]), np.array([[-1.0], [2.0], [0.5]]))"  # AUC helper
    )
    assert "celebalab.metrics.attributes" in loaded
    assert not {m for m in loaded if m.startswith("celebalab.models")}


@pytest.mark.parametrize(
    ("module", "must_not_import"),
    [
        ("celebalab.analysis.report", "celebalab.analysis.runner"),
        ("celebalab.analysis._summary", "celebalab.analysis.runner"),
        ("celebalab.models.eval_report", "celebalab.models.evaluate"),
        ("celebalab.metrics.attributes", "celebalab.models"),
        ("celebalab.runtime", "torch"),
    ],
)
def test_no_import_circles(module: str, must_not_import: str) -> None:
    code = (f"import sys, {module}; "
            f"sys.exit(any(m == {must_not_import!r} or m.startswith({must_not_import!r} + '.') "
            "for m in sys.modules))")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": str(SRC)})
    assert done.returncode == 0, f"{module} imports {must_not_import}"
