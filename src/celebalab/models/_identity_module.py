"""The identity (face-recognition) LightningModule: an L2-normalised embedding under a margin loss.

Why this shape: the network is any classifier architecture of :mod:`~celebalab.models.
architectures` whose final linear layer outputs ``embedding_dim`` values instead of logits; the
embedding is that output, L2-normalised. Training uses an additive angular (ArcFace, Deng et al.
2019) or cosine (CosFace, Wang et al. 2018) margin loss from pytorch-metric-learning, whose
class-centre matrix is a parameter of the loss: it is trained with the network (so it is in the
checkpoints, for resume) but not saved in ``model.pt``, which needs only the embedding network.

Validation is open-set: CelebA's validation people never appear in training, so the epoch's
figures are face verification and identification among the validation images
(:mod:`celebalab.metrics.recognition`). ``val_loss``, which early stopping and the best
checkpoint follow, is ``1 − verification ROC AUC`` there.

Everything else (uint8 batches normalised on the device, augmentation, exact resume by
reseeding per step, AdamW with the one-cycle schedule) is the attribute classifier's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
import torch.nn.functional as F

from celebalab.models._module import AttributeClassifier, gather_epoch_outputs
from celebalab.models.architectures import build_model

IDENTITY_LOSSES: tuple[str, ...] = ("arcface", "cosface")
#: Default margins of the two losses: ArcFace 0.5 rad (28.6°), CosFace 0.35 (the papers' values).
DEFAULT_MARGINS: dict[str, float] = {"arcface": 0.5, "cosface": 0.35}
#: At most this many validation pairs per epoch (all positives, then sampled negatives).
VAL_PAIRS = 1_000_000


def margin_loss(
    name: str, num_classes: int, embedding_dim: int, margin: float, scale: float
) -> Any:
    """pytorch-metric-learning's ArcFace (``margin`` in radians) or CosFace loss."""
    from pytorch_metric_learning import losses

    if name == "arcface":
        return losses.ArcFaceLoss(num_classes, embedding_dim, margin=math.degrees(margin),
                                  scale=scale)  # fmt: skip
    if name == "cosface":
        return losses.CosFaceLoss(num_classes, embedding_dim, margin=margin, scale=scale)
    raise ValueError(f"identity loss must be one of {IDENTITY_LOSSES}, not {name!r}")


class IdentityModule(AttributeClassifier):
    """Embedding network + margin loss over the training identities (uint8 batches in).

    Batches carry ``targets`` ``N×2`` int64: the training class of each image (``-1`` outside
    the training identities) and its identity number.
    """

    def __init__(
        self,
        arch: str,
        num_classes: int,
        embedding_dim: int,
        mean: Sequence[float],
        std: Sequence[float],
        loss: str = "arcface",
        margin: float = 0.5,
        scale: float = 30.0,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        augment: bool = False,
        seed: int = 0,
        channels_last: bool = False,
        total_steps: int = 1,
    ) -> None:
        init_args = {k: v for k, v in locals().items() if k != "self"}
        pl.LightningModule.__init__(self)  # the parent's __init__ builds a classifier head
        self.save_hyperparameters(init_args)
        self.model = build_model(arch, embedding_dim)
        if channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.loss_fn = margin_loss(loss, num_classes, embedding_dim, margin, scale)
        self._val_outputs: list[tuple[torch.Tensor, torch.Tensor]] = []

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Unit-norm embeddings ``N×embedding_dim`` of a uint8 batch."""
        return F.normalize(super().forward(images).float(), dim=1)

    def _loss(self, embeddings: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        classes = targets[:, 0].long()
        known = classes >= 0
        if not bool(known.any()):
            return embeddings.sum() * 0.0
        return self.loss_fn(embeddings[known].float(), classes[known])

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        """Keep the validation embeddings and identities for the epoch's open-set figures."""
        images, targets = batch
        self._val_outputs.append((self(images).detach(), targets[:, 1].detach()))

    def on_validation_epoch_end(self) -> None:
        """Verification and identification among the validation people; ``val_loss``."""
        if not self._val_outputs:
            return
        emb, ids = gather_epoch_outputs(self, self._val_outputs)
        figures = open_set_figures(emb.float().cpu().numpy(), ids.cpu().numpy())
        loss = 1.0 - figures["roc_auc"] if np.isfinite(figures["roc_auc"]) else 1.0
        self.log("val_loss", float(loss), prog_bar=True, sync_dist=False)
        for key in ("eer", "map_at_r", "precision_at_1"):
            if np.isfinite(figures[key]):
                self.log(f"val_{key}", float(figures[key]), rank_zero_only=True)


def open_set_figures(embeddings: np.ndarray, identities: np.ndarray) -> dict[str, float]:
    """Verification (ROC AUC, EER, TAR@FAR) and identification figures of unit embeddings."""
    from celebalab.metrics.recognition import (
        identification_metrics,
        make_pairs,
        pair_scores,
        verification_metrics,
    )

    pairs = make_pairs(identities, max_pairs=VAL_PAIRS, seed=0)
    return {
        **identification_metrics(embeddings, identities, "cosine"),
        **verification_metrics(pairs.same, pair_scores(embeddings, pairs, "cosine")),
    }
