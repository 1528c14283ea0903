"""Which precision a GAN run trains in, and the autocast context for it.

On a GPU ``auto`` is bf16 autocast where the GPU has bf16, else fp16 with one GradScaler per
network. On the CPU ``auto`` is bf16 autocast only where the CPU computes bf16 natively
(``avx512_bf16`` or AMX): there oneDNN's bf16 convolutions are ~1.5× faster than fp32 on the
seed's networks, while without it bf16 is emulated and slower, so the CPU stays in 32-bit. The
weights, optimiser state and EMA stay fp32 either way; ``--precision 32`` turns autocast off.
"""

from __future__ import annotations

import contextlib

import torch

from celebalab.generate._state import GanTrainError


def cpu_has_bf16() -> bool:
    """Whether this CPU computes bf16 natively (``avx512_bf16`` or AMX tiles)."""
    # torch's CPU capability checks are private: a release without them reads as "no bf16".
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in checks)


def resolve_precision(wanted: str, device: torch.device) -> tuple[str, str | None]:
    """The precision used for ``wanted`` on ``device``, and a note to print (or None)."""
    if device.type == "cuda":
        bf16 = torch.cuda.is_bf16_supported()
        if wanted == "auto":
            return ("bf16-mixed" if bf16 else "16-mixed"), None
        if wanted == "bf16-mixed" and not bf16:
            raise GanTrainError("--precision bf16-mixed: this GPU has no bf16; use 16-mixed")
        return wanted, None
    native = cpu_has_bf16()
    if wanted == "auto":
        if native:
            return "bf16-mixed", (
                "training with bf16 autocast on the CPU (it has native bf16; weights stay "
                "32-bit); --precision 32 turns it off"
            )
        return "32", None
    if wanted == "16-mixed":
        return "32", "--precision 16-mixed needs a GPU; training in 32-bit on the CPU"
    if wanted == "bf16-mixed" and not native:
        return "32", (
            "--precision bf16-mixed: this CPU has no native bf16 (emulated it is slower); "
            "training in 32-bit"
        )
    return wanted, None


def autocast(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """The autocast context of ``precision`` on ``device`` (a no-op for ``"32"``)."""
    if precision == "32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16-mixed" else torch.float16
    return torch.autocast(device.type, dtype=dtype)
