"""Falsification rate and deletion/insertion curves: does removing what an explanation points at
change the decision more than removing pixels at random?

Definition (the seeds use FR without defining it; this is the definition celebalab measures).
For an image ``x`` with decision score ``s(x)`` and an attribution map ``A``:

1. ``E`` = the top-q % pixels of ``A`` (``k = ceil(q·H·W)``, ties broken by position);
   ``R_1 … R_D`` = ``D`` random sets of ``k`` pixels (seeded).
2. ``remove(x, P)`` replaces the pixels ``P`` (all channels) by a fill: ``blur`` (a Gaussian
   blur of ``x``, sigma = side/16), ``mean`` (the image's mean colour) or ``inpaint``
   (ROAD-style imputation from the surrounding pixels: scikit-image's biharmonic inpainting).
3. ``drop_E = s(x) − s(remove(x, E))``, ``drop_R = mean_d (s(x) − s(remove(x, R_d)))``.
4. The explanation is **falsified** when ``drop_E ≤ drop_R + margin``: removing what it
   points at lowers the score no more than removing an equal area at random.

FR of a method = the share of its explanations that are falsified. The score ``s`` is the
decision being explained (an attribute's logit, a pair's cosine similarity).

Deletion / insertion (Petsiuk et al.): the pixels are removed (deletion, from ``x``) or restored
(insertion, into the fully filled image) in attribution order, ``steps`` equal steps; the curve
is the decision's probability (sigmoid of the logit; the cosine for pairs) and its AUC the
trapezoid mean over the removed fraction. Low deletion AUC and high insertion AUC are good.
Curves use the ``blur`` or ``mean`` fill (``inpaint`` would need one inpainting per step: the
curves then use ``blur``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from celebalab.explain.config import FILLS, FalsificationSettings  # noqa: F401 (FILLS: old home)
from celebalab.explain.metrics import top_count


@dataclass(frozen=True)
class FalsificationResult:
    """Per image: score drops, falsified flag, deletion/insertion curves (B×(steps+1)) and AUCs."""

    drop_explanation: np.ndarray
    drop_random: np.ndarray
    falsified: np.ndarray
    deletion: np.ndarray
    insertion: np.ndarray
    deletion_auc: np.ndarray
    insertion_auc: np.ndarray


def falsify(
    decision: nn.Module,
    inputs: torch.Tensor,
    attributions: np.ndarray,
    *,
    extra: tuple[torch.Tensor, ...] = (),
    curve: Callable[[torch.Tensor], torch.Tensor] = torch.sigmoid,
    settings: FalsificationSettings | None = None,
) -> FalsificationResult:
    """Falsification test and deletion/insertion curves of ``attributions`` (B×H×W) on ``inputs``.

    ``inputs``: ``B×3×H×W`` model input; ``decision(inputs, *extra)`` gives ``B`` scores;
    ``curve`` maps scores to the curves' scale (sigmoid for logits, identity for cosines).
    """
    settings = settings or FalsificationSettings()
    maps = np.asarray(attributions, dtype=np.float64)
    if maps.shape != (inputs.shape[0], *inputs.shape[-2:]):
        raise ValueError(f"attributions {maps.shape} do not match inputs {tuple(inputs.shape)}")
    return _falsify(decision, inputs.detach(), maps, extra, curve, settings)


def _falsify(decision, x, maps, extra, curve, settings) -> FalsificationResult:
    b, _, h, w = x.shape
    n = h * w
    k = top_count(h, w, settings.top_fraction)
    device = x.device  # masks are built where the images live (CPU or GPU)
    order = torch.as_tensor(np.argsort(-maps.reshape(b, -1), axis=1, kind="stable"), device=device)
    rng = np.random.default_rng(settings.seed)
    sets = [order[:, :k]] + [
        torch.as_tensor(np.argsort(rng.random((b, n)), axis=1)[:, :k], device=device)
        for _ in range(settings.draws)
    ]
    removed = torch.stack([_as_mask(s, n) for s in sets], 1).reshape(b, -1, h, w)  # B×(1+D)×H×W
    score = _Scorer(decision, extra, settings.batch_size)
    base = score(x, lambda i: i)
    filled = torch.stack(
        [_remove(x, removed[:, d], settings.fill) for d in range(removed.shape[1])], 1
    )  # B×(1+D)×3×H×W
    drops = base[:, None] - score(filled.flatten(0, 1), lambda i: i % b).reshape(b, -1)
    drop_e, drop_r = drops[:, 0], drops[:, 1:].mean(1)
    deletion, insertion = _curves(x, order, score, curve, settings)
    fractions = np.linspace(0, 1, settings.steps + 1)
    return FalsificationResult(
        drop_explanation=drop_e.numpy(),
        drop_random=drop_r.numpy(),
        falsified=(drop_e <= drop_r + settings.margin).numpy(),
        deletion=deletion,
        insertion=insertion,
        deletion_auc=np.trapezoid(deletion, fractions, axis=1),
        insertion_auc=np.trapezoid(insertion, fractions, axis=1),
    )


def _as_mask(indices: torch.Tensor, n: int) -> torch.Tensor:
    mask = torch.zeros(indices.shape[0], n, dtype=torch.bool, device=indices.device)
    mask.scatter_(1, indices, True)
    return mask


class _Scorer:
    """Scores of many variants of the batch, ``batch_size`` per forward, extra args matched."""

    def __init__(self, decision: nn.Module, extra: tuple, batch_size: int) -> None:
        self.decision, self.extra, self.batch_size = decision, extra, batch_size

    @torch.no_grad()
    def __call__(self, variants: torch.Tensor, owner: Callable) -> torch.Tensor:
        out = []
        for i in range(0, len(variants), self.batch_size):
            idx = torch.arange(i, min(len(variants), i + self.batch_size), device=variants.device)
            extra = tuple(e[owner(idx)] for e in self.extra)
            chunk = variants[idx].contiguous(memory_format=torch.channels_last)
            out.append(self.decision(chunk, *extra).float().cpu())
        return torch.cat(out).double()


def fill_reference(x: torch.Tensor, fill: str) -> torch.Tensor:
    """The fully "removed" image for ``blur`` or ``mean`` fills (``B×3×H×W``)."""
    if fill == "mean":
        return x.mean((2, 3), keepdim=True).expand_as(x)
    from torchvision.transforms.v2.functional import gaussian_blur

    sigma = max(0.5, x.shape[-1] / 16)
    kernel = 2 * round(3 * sigma) + 1
    return gaussian_blur(x, [kernel, kernel], [sigma, sigma])


def _remove(x: torch.Tensor, mask: torch.Tensor, fill: str) -> torch.Tensor:
    """``x`` with the pixels of ``mask`` (B×H×W) replaced by the fill."""
    if fill == "inpaint":
        return _inpaint(x, mask)
    return torch.where(mask[:, None], fill_reference(x, fill), x)


def _inpaint(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    from skimage.restoration import inpaint_biharmonic

    images = x.cpu().numpy().transpose(0, 2, 3, 1)
    out = [
        inpaint_biharmonic(img, m, channel_axis=-1)
        for img, m in zip(images, mask.cpu().numpy(), strict=True)
    ]
    return torch.as_tensor(np.stack(out).transpose(0, 3, 1, 2), dtype=x.dtype, device=x.device)


def _curves(x, order, score, curve, settings) -> tuple[np.ndarray, np.ndarray]:
    b, _, h, w = x.shape
    n = h * w
    reference = fill_reference(x, "mean" if settings.fill == "mean" else "blur")
    counts = [round(j * n / settings.steps) for j in range(settings.steps + 1)]
    deleted = torch.stack(
        [_as_mask(order[:, :c], n).reshape(b, h, w) for c in counts], 1
    )  # B×(steps+1)×H×W
    dele = torch.where(deleted[:, :, None], reference[:, None], x[:, None])
    ins = torch.where(deleted[:, :, None], x[:, None], reference[:, None])
    both = torch.cat([dele, ins], 1).flatten(0, 1)
    owner = lambda i: i // (2 * len(counts))  # noqa: E731
    values = curve(score(both, owner)).reshape(b, 2, len(counts)).numpy()
    return values[:, 0], values[:, 1]
