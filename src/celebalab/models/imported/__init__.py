"""Pretrained models as celebalab runs: dlib's face recogniser, ONNX, TorchScript, torch.export.

``import_model(SOURCE, OUT, ImportOptions(...))`` writes a run folder every command taking a RUN
accepts; ``load_run`` rebuilds its model with :func:`build_imported_model`. Members load on
first use (``ImportOptions`` without torch, for ``celebalab --help``).
"""

from celebalab._lazy import lazy_exports

_LAZY = {
    "ALIGNMENTS": "celebalab.models.imported._options",
    "CHANNELS": "celebalab.models.imported._options",
    "KINDS": "celebalab.models.imported._options",
    "PRESETS": "celebalab.models.imported._options",
    "ImportOptions": "celebalab.models.imported._options",
    "Preset": "celebalab.models.imported._options",
    "build_imported_model": "celebalab.models.imported._load",
    "import_model": "celebalab.models.imported._import",
}

__all__ = list(_LAZY)


__getattr__ = lazy_exports(__name__, _LAZY)
