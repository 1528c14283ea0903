"""What one evaluation measured, in a module of its own so that the code computing it
(``evaluate``) and the code presenting it (``eval_report``, the CLI) import it without importing
each other."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from celebalab.models.records import ModelRun


@dataclass
class EvaluationResult:
    """Everything ``evaluate`` measured (``run``: the evaluated run's record); ``files`` are the
    outputs it wrote."""

    run_dir: Path
    split: str
    run: ModelRun
    metrics: pd.DataFrame
    headline: dict[str, float | int]
    predictions: pd.DataFrame
    data_source: str
    seconds: float
    skipped_images: list[str] = field(default_factory=list)
    skipped_reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    attribute_kinds: dict[str, str] | None = None
    attribute_groups: dict[str, str] | None = None
    groups: pd.DataFrame | None = None
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def out_dir(self) -> Path:
        """Folder of this split's evaluation outputs."""
        return self.run_dir / f"eval_{self.split}"
