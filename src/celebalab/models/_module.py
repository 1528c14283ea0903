"""The Lightning module: uint8 batches in, normalised and augmented on the device, logits out.

Keeping the input pipeline off the critical path: loaders hand over uint8 ``N×S×S×3`` batches
(a quarter of the bytes of float32), which cross to the GPU as they are; the conversion, the
normalisation and the augmentation run on the device, and the NHWC→NCHW permute of the stored
layout is already a ``channels_last`` tensor, which GPU convolutions prefer.

Augmentation is one random affine warp per image (horizontal flip, zoom of a random-resized
crop covering 72–100 % of the area, translation within the image) done with ``grid_sample``.

Resume is exact: the global RNG is reseeded from ``(seed, global_step)`` before every training
step, so dropout and augmentation of step *k* are the same whether or not the run was
interrupted before it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
import torch.nn.functional as F

from celebalab.metrics.attributes import attribute_metrics, headline
from celebalab.models.architectures import build_model, normalise_uint8


def attribute_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    pos_weight: torch.Tensor | None = None,
    focal_gamma: float = 0.0,
) -> torch.Tensor:
    """Mean BCE-with-logits over images and attributes; focal when ``focal_gamma`` > 0.

    Focal loss (Lin et al. 2017) scales each term by ``(1 - p_t)^gamma`` so that easy, mostly
    negative examples of rare attributes stop dominating; ``pos_weight`` multiplies positive terms.
    """
    logits = logits.float()
    loss = F.binary_cross_entropy_with_logits(
        logits, targets, pos_weight=pos_weight, reduction="none"
    )
    if focal_gamma > 0:
        p = torch.sigmoid(logits)
        p_t = torch.where(targets > 0.5, p, 1 - p)
        loss = loss * (1 - p_t).pow(focal_gamma)
    return loss.mean()


def augment(x: torch.Tensor, min_scale: float = 0.85) -> torch.Tensor:
    """Random flip + random-resized crop (side ``min_scale``–1) + translation, per image."""
    n = x.shape[0]
    dev = x.device
    scale = torch.empty(n, device=dev).uniform_(min_scale, 1.0)
    flip = torch.where(torch.rand(n, device=dev) < 0.5, -1.0, 1.0)
    shift = (torch.rand(n, 2, device=dev) * 2 - 1) * (1 - scale)[:, None]
    theta = torch.zeros(n, 2, 3, device=dev)
    theta[:, 0, 0] = scale * flip
    theta[:, 1, 1] = scale
    theta[:, :, 2] = shift
    grid = F.affine_grid(theta, list(x.shape), align_corners=False).to(x.dtype)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


class AttributeClassifier(pl.LightningModule):
    """A multi-label attribute classifier (one logit per attribute) trained from uint8 batches."""

    def __init__(
        self,
        arch: str,
        attribute_names: Sequence[str],
        mean: Sequence[float],
        std: Sequence[float],
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        pos_weight: Sequence[float] | None = None,
        focal_gamma: float = 0.0,
        augment: bool = True,
        seed: int = 0,
        channels_last: bool = False,
        total_steps: int = 1,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.model = build_model(arch, len(attribute_names))
        if channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        weight = torch.tensor(pos_weight, dtype=torch.float32) if pos_weight is not None else None
        self.register_buffer("pos_weight", weight, persistent=False)
        self._val_outputs: list[tuple[torch.Tensor, torch.Tensor]] = []

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits for a uint8 batch (``N×S×S×3`` or ``N×3×S×S``) on this module's device."""
        hp = self.hparams
        return self.model(normalise_uint8(images, hp.mean, hp.std, hp.channels_last))

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        """Reseed the RNG from the step number: augmentation and dropout survive a resume."""
        torch.manual_seed(self.hparams.seed * 1_000_003 + self.global_step)

    def _loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return attribute_loss(logits, labels.float(), self.pos_weight, self.hparams.focal_gamma)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> Any:
        """Normalise, augment, forward, loss."""
        images, labels = batch
        hp = self.hparams
        x = normalise_uint8(images, hp.mean, hp.std, hp.channels_last)
        if hp.augment:
            x = augment(x)
        loss = self._loss(self.model(x), labels)
        self.log("train_loss", loss, prog_bar=True, on_step=True, on_epoch=True,
                 batch_size=len(labels))  # fmt: skip
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        """Validation loss; probabilities kept for the epoch's balanced accuracy."""
        images, labels = batch
        logits = self(images)
        self.log("val_loss", self._loss(logits, labels), prog_bar=True, sync_dist=True,
                 batch_size=len(labels))  # fmt: skip
        self._val_outputs.append((torch.sigmoid(logits.float()).detach(), labels.detach()))

    def on_validation_epoch_end(self) -> None:
        """Mean balanced accuracy at threshold 0.5 over the whole validation split."""
        if not self._val_outputs:
            return
        probs, labels = gather_epoch_outputs(self, self._val_outputs)
        y, p = labels.cpu().numpy(), probs.float().cpu().numpy()
        value = headline(attribute_metrics(y, p, np.full(y.shape[1], 0.5)))
        value = value["mean_balanced_accuracy"]
        self.log("val_bal_acc", value, prog_bar=True, rank_zero_only=True)

    def configure_optimizers(self) -> Any:
        """AdamW with a per-step one-cycle schedule over ``total_steps`` (the planned training).

        One-cycle (Smith & Topin 2019: linear warm-up to ``lr`` over the first 25 % of the steps,
        then cosine annealing to ``lr``/10⁴) lets a short CPU run use a high peak rate without
        diverging early. The step count is given, not asked of the trainer: estimating it would
        build the train loader before a resumed run has restored its position. At least 5 steps
        are planned: with fewer, the warm-up phase is empty and torch's scheduler divides by 0.
        """
        opt = torch.optim.AdamW(
            self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay
        )
        sched = self._one_cycle(opt)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def _one_cycle(self, opt: torch.optim.Optimizer) -> torch.optim.lr_scheduler.OneCycleLR:
        return torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=self.hparams.lr, total_steps=max(5, self.hparams.total_steps),
            pct_start=0.25, cycle_momentum=False,
        )  # fmt: skip

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Re-plan a resumed schedule whose length changed (``--resume --epochs`` trains longer).

        torch's one-cycle schedule refuses to step past the total it was created with; the
        saved position is kept and the phases are those of this run's plan.
        """
        schedulers = checkpoint.get("lr_schedulers") or []
        planned = max(5, self.hparams.total_steps)
        if len(schedulers) != 1 or schedulers[0].get("total_steps") == planned:
            return
        dummy = torch.optim.AdamW([torch.zeros(1, requires_grad=True)], lr=self.hparams.lr)
        position = ("last_epoch", "_step_count", "_last_lr")
        saved = schedulers[0]
        schedulers[0] = {
            **self._one_cycle(dummy).state_dict(),
            **{k: saved[k] for k in position if k in saved},
        }


def gather_epoch_outputs(
    module: pl.LightningModule, outputs: list[tuple[torch.Tensor, torch.Tensor]]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Concatenate an epoch's ``(values, targets)`` batches (then clear ``outputs``), gathered
    from every DDP rank when there are several, so epoch metrics see the whole split."""
    values = torch.cat([v for v, _ in outputs])
    targets = torch.cat([t for _, t in outputs])
    outputs.clear()
    if module.trainer.world_size > 1:
        values = module.all_gather(values).flatten(0, 1)
        targets = module.all_gather(targets).flatten(0, 1)
    return values, targets
