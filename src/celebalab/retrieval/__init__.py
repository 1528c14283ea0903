"""Retrieval over embedding sets: FAISS-backed exact/approximate k-NN and ``celebalab retrieve``.

Importing this package stays light (no faiss): members load on first use.
"""

from celebalab._lazy import lazy_exports

_LAZY = {
    "EmbeddingIndex": "celebalab.retrieval.index",
    "IndexSettings": "celebalab.retrieval.index",
    "RetrieveOptions": "celebalab.retrieval.query",
    "build_index": "celebalab.retrieval.index",
    "retrieve": "celebalab.retrieval.query",
    "parse_where": "celebalab.retrieval.query",
    "RetrievalResult": "celebalab.retrieval.query",
    "write_retrieval_outputs": "celebalab.retrieval.grid",
}

__all__ = list(_LAZY)


__getattr__ = lazy_exports(__name__, _LAZY)
