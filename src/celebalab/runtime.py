"""Where work runs and on which rows: the one home of split names and of device choice.

Every command that takes ``--split`` or ``--device`` checks it here, so the accepted values and
the messages are the same everywhere. torch is imported inside the functions: this module sits
below ``datasets`` and must stay cheap to import (``celebalab --help`` does not load torch).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from celebalab.errors import CelebalabError

if TYPE_CHECKING:
    import torch

#: The dataset partitions, in partition-code order (0 train, 1 val, 2 test).
PARTITION_SPLITS: tuple[str, ...] = ("train", "val", "test")
#: What ``--split`` accepts: a partition, or ``all`` (every row of the table).
SPLITS: tuple[str, ...] = (*PARTITION_SPLITS, "all")


def check_split(split: str) -> str:
    """``split`` if it is one of :data:`SPLITS`, else a :class:`CelebalabError` naming them."""
    if split not in SPLITS:
        raise CelebalabError(f"--split must be one of {', '.join(SPLITS)}, not {split!r}")
    return split


def cuda_available() -> bool:
    """True when torch sees a CUDA GPU."""
    import torch

    return torch.cuda.is_available()


def resolve_device(device: str | None = None) -> torch.device:
    """The torch device for ``device`` (default: ``cuda`` when a GPU is visible, else ``cpu``).

    A name torch does not know, or a CUDA device on a machine without one (or with fewer GPUs),
    is a :class:`CelebalabError` saying what is available instead of a traceback at first use.
    """
    import torch

    if device is None:
        return torch.device("cuda" if cuda_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, ValueError):
        raise CelebalabError(
            f"--device {device!r} is not a torch device; use cpu, cuda or cuda:N"
        ) from None
    if resolved.type == "cuda":
        count = torch.cuda.device_count() if cuda_available() else 0
        if count == 0:
            raise CelebalabError(
                f"--device {device}: no CUDA GPU is visible on this machine; use --device cpu"
            )
        if resolved.index is not None and resolved.index >= count:
            raise CelebalabError(
                f"--device {device}: this machine has {count} CUDA GPU(s) (cuda:0"
                f"{f'…cuda:{count - 1}' if count > 1 else ''})"
            )
    elif resolved.type == "mps" and not torch.backends.mps.is_available():
        raise CelebalabError(f"--device {device}: no Apple GPU (MPS) here; use --device cpu")
    elif resolved.type not in ("cpu", "mps"):
        raise CelebalabError(f"--device {device}: only cpu, cuda and mps devices are supported")
    return resolved
