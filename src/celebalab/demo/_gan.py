"""The ``make demo`` GAN stage: a short 32 px run on the demo's faces, then its evaluation.

A few epochs of the seed's small pair with ``gan train``'s default recipe (the one chosen by
equal-time quality, docs/generation.md) take about a minute on 2 CPU cores; the evaluation uses
the demo's own classifier as the feature space (so the figures are the clearly named
classifier-feature FID/KID, with their real-vs-real floor).
"""

from __future__ import annotations

from pathlib import Path

from celebalab.generate import (
    GanConfig,
    GanEvaluation,
    GanRun,
    add_metric_sections,
    add_training_sections,
    evaluate_gan,
    train_gan,
)
from celebalab.reports.html import Report


def run_demo_gan(
    root: Path, out: Path, classifier: Path, *, epochs: int, crop: str, seed: int,
    samples: int = 500,
) -> tuple[GanRun | None, GanEvaluation]:  # fmt: skip
    """Train the 32 px DCGAN for ``epochs`` into ``out`` and evaluate it with ``classifier``.

    A dataset too small for four of the recipe's batches per epoch (the demo's tiny test sizes)
    trains with batches of a quarter of its training split instead.
    """
    from celebalab.datasets.dataset import open_dataset

    dataset = open_dataset(root)
    train = int(((dataset.partition == 0) & dataset.present).sum())
    batch = max(2, min(GanConfig().batch_size, train // 4))
    config = GanConfig(size=32, crop=crop, epochs=epochs, batch_size=batch, seed=seed,
                       progress=False)  # fmt: skip
    info = train_gan(root, out, config)
    result = evaluate_gan(out, classifier, n=samples, seed=seed)
    return info, result


def add_demo_sections(report: Report, out: Path, info: GanRun, result: GanEvaluation) -> None:
    """The GAN's training sections and its metric table, appended to the demo report."""
    add_training_sections(report, out, info)
    add_metric_sections(report.section("GAN evaluation"), result)
