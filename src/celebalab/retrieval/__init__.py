"""Retrieval over embedding sets: FAISS-backed exact/approximate k-NN and ``celebalab retrieve``.

Importing this package stays light (no faiss): members load on first use.
"""

from importlib import import_module
from typing import Any

_LAZY = {
    "EmbeddingIndex": "celebalab.retrieval.index",
    "build_index": "celebalab.retrieval.index",
    "retrieve": "celebalab.retrieval.query",
    "parse_where": "celebalab.retrieval.query",
    "RetrievalResult": "celebalab.retrieval.query",
    "write_retrieval_outputs": "celebalab.retrieval.grid",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
