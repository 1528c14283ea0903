"""Face embeddings: the on-disk embedding set, importers, extraction from runs, evaluation.

Importing this package stays light (no torch): members load on first use.
"""

from importlib import import_module
from typing import Any

_LAZY = {
    "EmbeddingSet": "celebalab.embeddings.store",
    "EmbeddingSetError": "celebalab.embeddings.store",
    "load_embeddings": "celebalab.embeddings.store",
    "import_celeba_vis_csv": "celebalab.embeddings.importers",
    "import_npy": "celebalab.embeddings.importers",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
