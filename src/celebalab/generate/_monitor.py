"""Watching a GAN train: fixed-noise grids, and warnings when training collapses.

Two symptoms are checked, because either one alone misses cases: the discriminator winning
outright (its loss near 0: the generator gets no useful gradient), and mode collapse (samples
from different noise vectors becoming alike). Diversity is the mean pairwise pixel distance of
the fixed-noise samples divided by that of a fixed set of real training images; real faces
give 1, a collapsed generator tends to 0. A freshly initialised generator also draws nearly the
same grey face for every noise vector, so low diversity is only reported once the generator has
had ``DIVERSITY_WARMUP`` steps, or when diversity falls below half its best earlier value. The
discriminator's loss is only judged after ``D_WARMUP`` steps too: a hinge discriminator often
meets every margin for a while early in a run and loses that lead by itself, which is not a
collapse.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from celebalab.generate._data import nchw, resize_bicubic

#: Mean discriminator loss (over the last ``D_WINDOW`` steps) below which D has "won".
D_COLLAPSE_LOSS = 0.05
D_WINDOW = 100
D_WARMUP = 500
#: Sample diversity (relative to real images) below which the samples are losing variety.
MIN_DIVERSITY = 0.3
DIVERSITY_WARMUP = 500


def grid_columns(count: int) -> int:
    """Columns of a near-square grid of ``count`` tiles."""
    return max(1, math.ceil(math.sqrt(count)))


def image_grid(images: np.ndarray, columns: int | None = None, upscale: int = 1) -> np.ndarray:
    """uint8 ``N×S×S×3`` tiles → one uint8 ``H×W×3`` grid (torchvision's ``make_grid``).

    ``upscale`` > 1 enlarges each tile by bicubic interpolation first (as the seed did): it adds
    pixels, not detail.
    """
    from torchvision.utils import make_grid

    tiles = nchw(images)
    if upscale > 1:
        tiles = resize_bicubic(tiles, tiles.shape[-1] * upscale)
    grid = make_grid(tiles, nrow=columns or grid_columns(len(tiles)), padding=2, pad_value=255)
    return grid.permute(1, 2, 0).numpy()


def mean_pairwise_distance(images: np.ndarray) -> float:
    """Mean L2 distance between distinct pairs of images (pixels scaled to [0, 1])."""
    flat = torch.from_numpy(np.asarray(images, dtype=np.float32).reshape(len(images), -1) / 255)
    n = len(flat)
    if n < 2:
        return float("nan")
    dist = torch.cdist(flat[None], flat[None])[0]
    return float(dist.sum() / (n * (n - 1)))


def collapse_warnings(
    d_losses: Sequence[float], diversity: float, best_diversity: float, step: int, epoch: int
) -> list[dict[str, object]]:
    """Warnings (as records for ``run.json``) for the latest epoch's losses and diversity.

    ``best_diversity`` is the highest diversity of the earlier epochs (NaN before any).
    """
    found: list[dict[str, object]] = []
    recent = np.asarray(d_losses[-D_WINDOW:], dtype=np.float64)
    if step >= D_WARMUP and len(recent) and float(recent.mean()) < D_COLLAPSE_LOSS:
        found.append({
            "epoch": epoch, "step": step, "kind": "discriminator_wins",
            "message": (f"discriminator loss {recent.mean():.4f} over the last {len(recent)} "
                        f"steps (< {D_COLLAPSE_LOSS}): the generator gets no useful gradient; "
                        "try a lower learning rate, or DiffAugment (--augment color,translation)"),
        })  # fmt: skip
    falling = best_diversity == best_diversity and diversity < best_diversity / 2
    if diversity < MIN_DIVERSITY and (step >= DIVERSITY_WARMUP or falling):
        found.append({
            "epoch": epoch, "step": step, "kind": "low_diversity",
            "message": (f"sample diversity {diversity:.2f} of the real images' (< {MIN_DIVERSITY}):"
                        " the generator may be collapsing onto a few faces"),
        })  # fmt: skip
    return found
