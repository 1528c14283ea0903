"""Tiny models exported the ways users bring theirs (ONNX, TorchScript, torch.export, state
dict), for the imported-model tests (a helper module, not a test file)."""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn


class TinyNet(nn.Module):
    """Image ``N×3×S×S`` → ``N×outputs``: a strided conv, pooling and a linear layer."""

    def __init__(self, outputs: int = 16) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, stride=2)
        self.pool = nn.AdaptiveAvgPool2d(2)
        self.head = nn.Linear(32, outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(torch.relu(self.conv(x))).flatten(1))


def tiny_net(outputs: int = 16, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return TinyNet(outputs).eval()


def export(module: nn.Module, path: Path, size: int, fmt: str) -> Path:
    """``module`` saved as ``fmt`` (onnx, torchscript, export, state_dict) at ``path``."""
    x = torch.randn(2, 3, size, size)
    batch = {0: torch.export.Dim("batch")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit's deprecation notices
        if fmt == "onnx":
            torch.onnx.export(module, (x,), str(path), dynamo=True, dynamic_shapes=(batch,),
                              verbose=False)  # fmt: skip
        elif fmt == "torchscript":
            torch.jit.save(torch.jit.trace(module, x), str(path))
        elif fmt == "export":
            program = torch.export.export(module, (x,), dynamic_shapes=(batch,))
            torch.export.save(program, str(path))
        else:
            torch.save(module.state_dict(), path)
    return path
