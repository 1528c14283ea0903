"""Imported models as torch modules: ONNX (onnxruntime), TorchScript, ``torch.export``, dlib.

Every backend takes what celebalab's own networks take, the normalised float input
``N×3×S×S`` (RGB, made by :func:`celebalab.models.inference.model_input` from the run's
``normalisation``), and returns ``N×D`` float32. The backend swaps to BGR or to channels-last
when the file wants it, and cuts a batch into the file's fixed batch size when it has one, so
every consumer (extraction, retrieval, the explorer, explain's perturbation methods) runs any
imported model through the same ``run.model(x)`` call. ``differentiable`` says whether
gradients flow (torch backends) or not (onnxruntime, dlib): gradient attribution methods need it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from celebalab.errors import CelebalabError


class ImportedModule(nn.Module):
    """Common frame: channel order, layout and fixed-batch chunking around ``_run``."""

    differentiable = False

    def __init__(self, channels: str = "rgb", layout: str = "nchw", batch: int | None = None):
        super().__init__()
        self.channels, self.layout, self.fixed_batch = channels, layout, batch
        self.source = ""  # the file named in errors

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels == "bgr":
            x = x.flip(1)
        if self.layout == "nhwc":
            x = x.permute(0, 2, 3, 1)
        step = self.fixed_batch or len(x)
        parts = [self._run(x[i : i + step]) for i in range(0, len(x), max(step, 1))]
        out = torch.cat(parts) if parts else torch.zeros(0)
        if out.ndim != 2:
            out = out.reshape(len(x), -1)
        if not bool(torch.isfinite(out).all()):
            raise CelebalabError(f"{self.source}: the model returned NaN or infinite values")
        return out

    def _run(self, x: torch.Tensor) -> torch.Tensor:
        if self.fixed_batch and len(x) < self.fixed_batch:  # pad the last chunk, drop the padding
            pad = x[:1].expand(self.fixed_batch - len(x), *x.shape[1:])
            return self._call(torch.cat([x, pad]))[: len(x)]
        return self._call(x)

    def _call(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class OnnxModule(ImportedModule):
    """An ONNX file run by onnxruntime (CUDA provider when present, else CPU)."""

    def __init__(self, path: Path, input_name: str, **frame: Any) -> None:
        super().__init__(**frame)
        self.session = onnx_session(path)
        self.input_name = input_name
        self.source = str(path)

    def _call(self, x: torch.Tensor) -> torch.Tensor:
        array = np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float32)
        out = self.session.run(None, {self.input_name: array})[0]
        return torch.from_numpy(np.asarray(out, dtype=np.float32)).to(x.device)


class TorchModule(ImportedModule):
    """A TorchScript module or a ``torch.export`` program's module: gradients flow."""

    differentiable = True

    def __init__(self, module: nn.Module, source: Path, **frame: Any) -> None:
        super().__init__(**frame)
        if _is_export_module(module):  # its train()/eval() raise: keep it out of the module tree
            object.__setattr__(self, "inner", module)
        else:
            self.inner = module
        self.source = str(source)

    def _call(self, x: torch.Tensor) -> torch.Tensor:
        out = self.inner(x)
        if isinstance(out, (tuple, list)):
            out = out[0]
        return out.float()


class DlibModule(ImportedModule):
    """dlib's ResNet descriptor on 150×150 chips (input normalised to 0–1, RGB), spread over
    ``processes`` worker processes (dlib holds the GIL; default: the usable CPUs)."""

    def __init__(self, processes: int | None = None) -> None:
        super().__init__()
        self.source = "dlib ResNet face descriptor"
        self.processes = processes

    def _call(self, x: torch.Tensor) -> torch.Tensor:
        from celebalab.alignment import describe_chips, map_chunks

        pixels = (x.detach().cpu() * 255.0).round().clamp(0, 255).to(torch.uint8)
        chips = list(pixels.permute(0, 2, 3, 1).numpy())
        vectors = map_chunks(describe_chips, chips, self.processes)
        return torch.from_numpy(np.stack(vectors)).to(torch.float32)


def _is_export_module(module: nn.Module) -> bool:
    """Whether ``module`` came from ``ExportedProgram.module()`` (a graph module that refuses
    ``train``/``eval``, and is always in inference form)."""
    return type(module).__module__.startswith("torch.export") or hasattr(module, "_in_spec")


def onnx_session(path: Path) -> Any:
    """An onnxruntime session for ``path``, or a one-line error when the file is not ONNX."""
    import onnxruntime as ort

    providers = [
        p
        for p in ("CUDAExecutionProvider", "CPUExecutionProvider")
        if p in ort.get_available_providers()
    ]
    options = ort.SessionOptions()
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), sess_options=options, providers=providers)
    except Exception as err:  # onnxruntime raises its own exception types for bad files
        reason = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
        raise CelebalabError(f"{path}: not a readable ONNX model ({reason})") from None
