"""The one seeded epoch order of every training loop (classifiers and the GAN).

Epoch ``e`` visits positions ``0…n-1`` in the permutation drawn by ``default_rng([seed, e])``.
Over ``num_replicas`` processes the permutation is dealt round-robin (rank ``r`` takes
``perm[r::R]``) and every rank keeps ``n // R`` of them, so all ranks run the same number of
steps. Each rank's share is cut into batches of ``batch_size``; the last partial batch is
dropped (BatchNorm cannot train on a batch of one, and a GAN wants equal batches) unless it is
the only batch. The order is a pure function of ``(n, batch_size, seed, epoch, R, r)``, which is
what makes a resumed run see exactly the batches an uninterrupted one would.
"""

from __future__ import annotations

import functools

import numpy as np


@functools.lru_cache(maxsize=4)
def epoch_permutation(n: int, seed: int, epoch: int) -> np.ndarray:
    """The seeded permutation of ``n`` positions for ``epoch`` (read-only, cached: every step of
    an epoch indexes the same one)."""
    order = np.random.default_rng([seed, epoch]).permutation(n)
    order.flags.writeable = False
    return order


def batches_per_epoch(n: int, batch_size: int, num_replicas: int = 1) -> int:
    """Batches each rank runs per epoch (0 only when a rank gets no position at all)."""
    share = n // num_replicas
    return max(share // batch_size, 1 if share else 0)


def epoch_batch(
    n: int, batch_size: int, *, seed: int, epoch: int, step: int, num_replicas: int = 1,
    rank: int = 0,
) -> np.ndarray:  # fmt: skip
    """Positions of batch ``step`` of ``epoch`` for ``rank`` (in draw order)."""
    share = epoch_permutation(n, seed, epoch)[rank::num_replicas][: n // num_replicas]
    if len(share) < batch_size:  # the only batch is a partial one
        return share if step == 0 else share[:0]
    return share[step * batch_size : (step + 1) * batch_size]


def epoch_batches(
    n: int, batch_size: int, *, seed: int, epoch: int, num_replicas: int = 1, rank: int = 0
) -> list[np.ndarray]:
    """Every batch of ``epoch`` for ``rank``, in order (see the module docstring)."""
    shard = {"num_replicas": num_replicas, "rank": rank}
    steps = range(batches_per_epoch(n, batch_size, num_replicas))
    return [epoch_batch(n, batch_size, seed=seed, epoch=epoch, step=s, **shard) for s in steps]
