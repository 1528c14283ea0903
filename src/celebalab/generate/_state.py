"""The training state of a GAN run and its checkpoint file: what an exact resume needs.

Everything the optimisation changes is in :class:`Nets` (both networks, the EMA, both
optimisers and gradient scalers), every counter and log in :class:`Progress`; the checkpoint
holds both, the config and the fixed grid noise, and is replaced atomically, so a ``kill -9``
at any moment leaves either the previous or the new checkpoint, never a torn one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.optim.swa_utils import AveragedModel

from celebalab.errors import CelebalabError
from celebalab.io import atomic_path

CHECKPOINT_FORMAT = 1
LOSS_COLUMNS = ("d_loss", "g_loss", "d_real", "d_fake")
_PARTS = ("gen", "disc", "ema", "opt_g", "opt_d", "scaler_g", "scaler_d")


class GanTrainError(CelebalabError):
    """A GAN run cannot start or continue (non-empty output, nothing to resume, mismatch)."""


@dataclass
class Nets:
    """Everything the optimisation updates (what the checkpoint saves)."""

    gen: torch.nn.Module
    disc: torch.nn.Module
    ema: AveragedModel
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    scaler_g: torch.amp.GradScaler
    scaler_d: torch.amp.GradScaler

    def state(self) -> dict[str, Any]:
        """State dicts of every part, by name."""
        return {name: getattr(self, name).state_dict() for name in _PARTS}

    def load(self, state: dict[str, Any]) -> None:
        """Inverse of :meth:`state`."""
        for name in _PARTS:
            getattr(self, name).load_state_dict(state[name])


@dataclass
class Progress:
    """Counters and logs of a run: step, training seconds, per-step losses, epochs, warnings."""

    step: int = 0
    seconds: float = 0.0
    losses: dict[str, list[float]] = field(default_factory=lambda: {c: [] for c in LOSS_COLUMNS})
    epochs: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)


def save_checkpoint(
    path: Path, *, config: dict[str, Any], root: Path, fingerprint: str, nets: Nets,
    progress: Progress, fixed: tuple[torch.Tensor, torch.Tensor | None],
) -> None:  # fmt: skip
    """Write the whole training state to ``path`` atomically."""
    state = {
        "format": CHECKPOINT_FORMAT,
        "config": config,
        "root": str(root),
        "fingerprint": fingerprint,
        "nets": nets.state(),
        "progress": progress.__dict__,
        "fixed": {"z": fixed[0].cpu(), "y": None if fixed[1] is None else fixed[1].cpu()},
    }
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def read_checkpoint(path: Path, device: torch.device) -> dict[str, Any]:
    """The checkpoint dict at ``path`` (tensors on ``device``), or a clear error."""
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except FileNotFoundError:
        raise GanTrainError(f"{path}: checkpoint not found") from None
    except Exception as err:
        raise GanTrainError(f"{path}: corrupt checkpoint ({type(err).__name__}); "
                            "start again with --overwrite") from None  # fmt: skip
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise GanTrainError(f"{path}: not a celebalab GAN checkpoint of format {CHECKPOINT_FORMAT}")
    return state
