"""An imported run's model rebuilt from its ``run.json`` record (:class:`ImportedRun`)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from celebalab.errors import CelebalabError
from celebalab.models.imported._backends import DlibModule, OnnxModule, TorchModule
from celebalab.models.records import ImportedRun


def build_imported_model(run_dir: Path, run: ImportedRun) -> nn.Module:
    """The module of an imported run: normalised float ``N×3×S×S`` → ``N×D`` (eval mode)."""
    source = run.source
    if source.format == "dlib":
        return DlibModule().eval()
    path = run_dir / str(source.file)
    if not path.is_file():
        raise CelebalabError(f"{path}: the imported model file is missing from the run")
    frame = {"channels": run.channels, "layout": source.layout, "batch": source.fixed_batch}
    if source.format == "onnx":
        return OnnxModule(path, source.input_name, **frame).eval()
    module = load_torch_module(path, source.format, source.arch, source.outputs)
    return TorchModule(module, path, **frame).eval()


def load_torch_module(path: Path, fmt: str, arch: str | None, outputs: int | None) -> nn.Module:
    """A TorchScript module, a ``torch.export`` program's module or an architecture + state dict."""
    if fmt == "torchscript":
        try:
            return torch.jit.load(str(path), map_location="cpu").eval()
        except Exception as err:  # torch's loader raises RuntimeError and friends
            raise CelebalabError(f"{path}: not a readable TorchScript file ({err})") from None
    if fmt == "export":
        from celebalab.models.imported._formats import load_export

        return load_export(path).module()
    if fmt == "state_dict":
        return _state_dict_module(path, arch, outputs)
    raise CelebalabError(f"{path}: unknown model format {fmt!r}")


def _state_dict_module(path: Path, arch: str | None, outputs: int | None) -> nn.Module:
    from celebalab.models import ARCHITECTURES
    from celebalab.models.architectures import build_model

    if arch not in ARCHITECTURES:
        raise CelebalabError(
            f"{path}: a state dict holds weights without their network; pass --arch (one of "
            f"{', '.join(ARCHITECTURES)}) or export the model to ONNX or TorchScript"
        )
    state = torch.load(path, map_location="cpu", weights_only=True)
    if outputs is None:  # the last 2-d weight is the output layer's
        outputs = int([v for v in state.values() if v.ndim == 2][-1].shape[0])
    model = build_model(arch, outputs)
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        first = str(err).strip().splitlines()[0]
        raise CelebalabError(f"{path}: weights do not fit --arch {arch} ({first})") from None
    return model.eval()
