"""Where work runs and on which rows: the one home of split names and of device choice.

Every command that takes ``--split`` or ``--device`` checks it here, so the accepted values and
the messages are the same everywhere. torch is imported inside the functions: this module sits
below ``datasets`` and must stay cheap to import (``celebalab --help`` does not load torch).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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


@dataclass(frozen=True)
class TrainingDevices:
    """How Lightning should run a training: accelerator, devices, strategy and precision."""

    accelerator: str
    devices: Any
    num_devices: int
    strategy: str
    precision: str
    gpu: bool

    @property
    def torch_device(self) -> torch.device:
        """The device of rank 0 (where the finishing step predicts)."""
        import torch

        return torch.device("cuda" if self.gpu else "cpu")


def training_devices(devices: str | int | None, precision: str | None) -> TrainingDevices:
    """Devices and precision of a training: mixed precision and DDP only on GPUs (notes else).

    ``devices`` is a GPU count or a list of ids (``"0,1"``); on a machine without CUDA the run
    uses the CPU, saying so when several devices or 16-bit mixed precision were asked for.
    """
    gpu = cuda_available()
    if devices in (None, "auto"):
        count: Any = 1
    elif isinstance(devices, int) or str(devices).isdigit():
        count = int(devices)
    else:
        try:
            count = [int(d) for d in str(devices).split(",") if d.strip()]
        except ValueError:
            raise CelebalabError(
                f"--devices must be a GPU count or ids like 0,1, not {devices!r}"
            ) from None
    n = len(count) if isinstance(count, list) else count
    if n < 1:
        raise CelebalabError(f"--devices {devices!r}: need at least one device")
    if not gpu:
        if n > 1:
            _note(f"--devices {devices} asks for several GPUs but none is available; "
                  "training on the CPU")  # fmt: skip
        count, n = 1, 1
    if precision is None:
        precision = "32-true"
        if gpu:
            import torch

            precision = "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    if precision == "32":
        precision = "32-true"
    if precision == "16-mixed" and not gpu:
        _note("16-mixed precision needs a GPU; training in 32-bit on the CPU")
        precision = "32-true"
    return TrainingDevices(
        accelerator="gpu" if gpu else "cpu",
        devices=count,
        num_devices=n,
        strategy="ddp" if gpu and n > 1 else "auto",
        precision=precision,
        gpu=gpu,
    )


def _note(message: str) -> None:
    print(f"note: {message}", file=sys.stderr, flush=True)
