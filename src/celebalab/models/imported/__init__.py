"""Pretrained models as celebalab runs: dlib's face recogniser, ONNX, TorchScript, torch.export.

``import_model(SOURCE, OUT, ImportOptions(...))`` writes a run folder every command taking a RUN
accepts; ``load_run`` rebuilds its model with :func:`build_imported_model`. Members load on
first use (``ImportOptions`` without torch, for ``celebalab --help``).
"""

from celebalab._lazy import lazy_exports

_OPTIONS = "celebalab.models.imported._options"  # no torch: what `model import --help` reads
_LAZY = {
    **dict.fromkeys(
        ("ALIGNMENTS", "CHANNELS", "KINDS", "PRESETS", "ImportOptions", "Preset"), _OPTIONS
    ),
    "build_imported_model": "celebalab.models.imported._load",
    "import_model": "celebalab.models.imported._import",
}

__all__ = list(_LAZY)


__getattr__ = lazy_exports(__name__, _LAZY)
