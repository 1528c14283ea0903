"""Face generation (``celebalab gan``): DCGAN training, sampling and honest evaluation.

Entry points load lazily so that ``celebalab --help`` does not import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from celebalab._lazy import lazy_exports

if TYPE_CHECKING:
    from celebalab.generate._report import add_metric_sections, add_training_sections
    from celebalab.generate.config import GanConfig
    from celebalab.generate.evaluate import evaluate_gan
    from celebalab.generate.options import GanEvaluateOptions, SampleOptions
    from celebalab.generate.records import GanEvaluation, GanRun
    from celebalab.generate.run import LoadedGan, load_gan_run
    from celebalab.generate.sample import sample_images
    from celebalab.generate.train import train_gan

__all__ = [
    "GanConfig",
    "GanEvaluateOptions",
    "GanEvaluation",
    "GanRun",
    "LoadedGan",
    "SampleOptions",
    "add_metric_sections",
    "add_training_sections",
    "evaluate_gan",
    "load_gan_run",
    "sample_images",
    "train_gan",
]

_HOMES = {
    "GanConfig": "config",
    "GanEvaluateOptions": "options",
    "GanEvaluation": "records",
    "GanRun": "records",
    "LoadedGan": "run",
    "SampleOptions": "options",
    "add_metric_sections": "_report",
    "add_training_sections": "_report",
    "load_gan_run": "run",
    "evaluate_gan": "evaluate",
    "sample_images": "sample",
    "train_gan": "train",
}


__getattr__ = lazy_exports(__name__, {name: f"{__name__}.{home}" for name, home in _HOMES.items()})
