"""Face embeddings: the on-disk embedding set, importers, extraction from runs, evaluation.

Importing this package stays light (no torch): members load on first use.
"""

from celebalab._lazy import lazy_exports

_LAZY = {
    "EmbeddingSet": "celebalab.embeddings.store",
    "EmbeddingSetError": "celebalab.embeddings.store",
    "EmbeddingSetInfo": "celebalab.embeddings.info",
    "load_embeddings": "celebalab.embeddings.store",
    "import_celeba_vis_csv": "celebalab.embeddings.importers",
    "import_npy": "celebalab.embeddings.importers",
    "EmbeddingImportOptions": "celebalab.embeddings.config",
    "EmbeddingExportOptions": "celebalab.embeddings.config",
    "extract_embeddings": "celebalab.embeddings.extract",
    "ExtractOptions": "celebalab.embeddings.config",
    "evaluate_embeddings": "celebalab.embeddings.evaluate",
    "EmbeddingEvaluation": "celebalab.embeddings.evaluate",
    "EvaluateOptions": "celebalab.embeddings.config",
}

__all__ = list(_LAZY)


__getattr__ = lazy_exports(__name__, _LAZY)
