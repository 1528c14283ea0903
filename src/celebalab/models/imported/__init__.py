"""Pretrained models as celebalab runs: dlib's face recogniser, ONNX, TorchScript, torch.export.

``import_model(SOURCE, OUT, ImportOptions(...))`` writes a run folder every command taking a RUN
accepts; ``load_run`` rebuilds its model with :func:`build_imported_model`.
"""

from celebalab.models.imported._import import (
    ALIGNMENTS,
    CHANNELS,
    KINDS,
    PRESETS,
    ImportOptions,
    Preset,
    import_model,
)
from celebalab.models.imported._load import build_imported_model

__all__ = [
    "ALIGNMENTS",
    "CHANNELS",
    "KINDS",
    "PRESETS",
    "ImportOptions",
    "Preset",
    "build_imported_model",
    "import_model",
]
