"""2-D maps of embedding vectors: PCA, UMAP (umap-learn) and t-SNE (openTSNE).

As in CelebA-Vis, PCA first keeps the components that explain 95 % of the variance (the space
K-means clusters in) and its first two components are the map; UMAP and t-SNE map the vectors
to two dimensions directly (t-SNE from the 95 % PCA components, as openTSNE advises for speed).
Every function is deterministic for a seed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from tqdm.auto import tqdm

if TYPE_CHECKING:
    from sklearn.decomposition import PCA

REDUCERS = ("pca", "umap", "tsne")
VARIANCE_KEPT = 0.95
SEED = 0


def fit_pca(vectors: np.ndarray) -> PCA:
    """All principal components of ``vectors`` (N×D): eigen-decomposition of the D×D
    covariance, exact and fast when N ≫ D as for face embeddings."""
    from sklearn.decomposition import PCA

    return PCA(svd_solver="covariance_eigh").fit(np.asarray(vectors, dtype=np.float32))


def components_for(ratios: np.ndarray, variance: float = VARIANCE_KEPT) -> int:
    """How many leading components explain ``variance`` of the variance (at least 2)."""
    if not 0 < variance <= 1:
        raise ValueError(f"variance must be in (0, 1], got {variance}")
    k = int(np.searchsorted(np.cumsum(ratios), variance - 1e-9) + 1)
    return max(2, min(k, len(ratios)))


def pca_scores(pca: PCA, vectors: np.ndarray, k: int) -> np.ndarray:
    """Scores (N×k float32) of ``vectors`` on the first ``k`` components of ``pca``."""
    data = np.asarray(vectors, dtype=np.float32)
    return ((data - pca.mean_) @ pca.components_[:k].T).astype(np.float32)


def umap_map(vectors: np.ndarray, seed: int = SEED, n_neighbors: int = 15) -> np.ndarray:
    """UMAP to 2-D with cosine distances (face embeddings are compared by angle); N×2 float32."""
    import umap

    reducer = umap.UMAP(
        n_components=2,
        n_neighbors=min(n_neighbors, len(vectors) - 1),
        metric="cosine",
        random_state=seed,
        verbose=True,  # progress of the (long) layout on the server console
        tqdm_kwds={"desc": "UMAP epochs"},
    )
    return reducer.fit_transform(np.asarray(vectors, dtype=np.float32)).astype(np.float32)


def tsne_map(components: np.ndarray, seed: int = SEED) -> np.ndarray:
    """openTSNE to 2-D from the PCA components (PCA initialisation); N×2 float32."""
    from openTSNE import TSNE

    n = len(components)
    iterations = 750
    bar = tqdm(total=iterations, desc="t-SNE iterations", leave=False)

    def advance(iteration: int, error: float, embedding: object) -> None:
        bar.update(50)

    perplexity = float(min(30.0, max(2.0, (n - 1) / 3.0)))
    tsne = TSNE(
        perplexity=perplexity,
        n_jobs=2,
        random_state=seed,
        initialization="pca",
        callbacks=advance,
        callbacks_every_iters=50,
    )
    try:
        mapped = np.asarray(tsne.fit(np.asarray(components, dtype=np.float32)))
    finally:
        bar.close()
    return mapped.astype(np.float32)
