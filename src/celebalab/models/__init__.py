"""Attribute classifiers: training, the run-directory format, and batched inference on a run.

The public names below load on first use (``celebalab --help`` must not import torch); import
them from here, e.g. ``from celebalab.models import load_run, iter_split_batches``.
"""

from celebalab._lazy import lazy_exports

#: Architectures ``celebalab train --arch`` accepts (built in ``models.architectures``).
ARCHITECTURES: tuple[str, ...] = ("small_cnn", "mobilenet_v2", "resnet18", "resnet50")

_LAZY = {
    "LoadedRun": "celebalab.models.run",
    "load_run": "celebalab.models.run",
    "ClassifierRun": "celebalab.models.records",
    "ImportedRun": "celebalab.models.records",
    "ImageBatch": "celebalab.models.inference",
    "SplitBatches": "celebalab.models.inference",
    "iter_split_batches": "celebalab.models.inference",
    "model_input": "celebalab.models.inference",
    "predict_logits": "celebalab.models.inference",
    "predict_proba": "celebalab.models.inference",
    "extract_features": "celebalab.models.inference",
    "TrainConfig": "celebalab.models.config",
    "train": "celebalab.models._train",
    "read_run_record": "celebalab.models.run",
    "evaluate_run": "celebalab.models.evaluate",
    "EvaluateRunOptions": "celebalab.models.config",
    "predict_paths": "celebalab.models.predict",
    "PredictOptions": "celebalab.models.config",
}

__all__ = ["ARCHITECTURES", *_LAZY]


__getattr__ = lazy_exports(__name__, _LAZY)
