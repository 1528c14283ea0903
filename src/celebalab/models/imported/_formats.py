"""What kind of model file a path is, and the input it declares.

ONNX files declare their input's name and shape; ``torch.export`` programs their example input's
shape (symbolic dimensions are dynamic); TorchScript modules and state dicts declare nothing, so
their input size comes from the options. Anything else is a one-line error naming the file.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from celebalab.errors import CelebalabError

FORMATS: tuple[str, ...] = ("onnx", "torchscript", "export", "state_dict")


@dataclass(frozen=True)
class ModelFile:
    """A model file and what it says of its input.

    ``shape`` is the input shape with ``None`` for dynamic dimensions (``None`` when the format
    does not declare one); ``input_name`` is ONNX's input name.
    """

    path: Path
    format: str
    shape: tuple[int | None, ...] | None = None
    input_name: str = ""


def inspect_model_file(path: Path) -> ModelFile:
    """Recognise ``path`` as ONNX, TorchScript, ``torch.export`` (``.pt2``) or a state dict."""
    if not path.is_file():
        raise CelebalabError(f"{path}: no such model file")
    if _is_zip(path):
        names = zipfile.ZipFile(path).namelist()
        # TorchScript first: its code folder mirrors module paths (…/torchvision/models/…)
        if any(n.endswith("/constants.pkl") or "/code/" in n for n in names):
            return ModelFile(path, "torchscript")
        if any(n.endswith(("/archive_format", "/models/model.json")) for n in names):
            return _export_file(path)
        return _state_dict_file(path)
    head = path.read_bytes()[:64]
    if path.suffix.lower() == ".onnx" or head[:1] == b"\x08":
        return _onnx_file(path)
    raise CelebalabError(
        f"{path}: not an ONNX, TorchScript, torch.export (.pt2) or state-dict file"
    )


def _is_zip(path: Path) -> bool:
    try:
        return zipfile.is_zipfile(path)
    except OSError:
        return False


def _onnx_file(path: Path) -> ModelFile:
    from celebalab.models.imported._backends import onnx_session

    inputs = onnx_session(path).get_inputs()
    if len(inputs) != 1:
        raise CelebalabError(
            f"{path}: the model takes {len(inputs)} inputs; an image model takes 1"
        )
    shape = tuple(d if isinstance(d, int) and d > 0 else None for d in inputs[0].shape)
    return ModelFile(path, "onnx", shape, inputs[0].name)


def _export_file(path: Path) -> ModelFile:
    program = load_export(path)
    shapes = [
        node.meta["val"].shape
        for node in program.graph.nodes
        if node.op == "placeholder" and node.name in _user_inputs(program)
    ]
    if len(shapes) != 1:
        raise CelebalabError(
            f"{path}: the program takes {len(shapes)} inputs; an image model takes 1"
        )
    shape = tuple(int(d) if isinstance(d, int) else None for d in shapes[0])
    return ModelFile(path, "export", shape)


def _user_inputs(program: Any) -> set[str]:
    return set(program.graph_signature.user_inputs)


def load_export(path: Path) -> Any:
    """The ``torch.export`` program in ``path`` (one-line error when it cannot be read)."""
    import torch

    try:
        return torch.export.load(str(path))
    except Exception as err:  # torch raises many kinds for foreign or damaged archives
        raise CelebalabError(f"{path}: not a readable torch.export program ({err})") from None


def _state_dict_file(path: Path) -> ModelFile:
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # a foreign zip or a pickle that is not plain tensors
        raise CelebalabError(
            f"{path}: not a TorchScript, torch.export or state-dict file ({err})"
        ) from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CelebalabError(f"{path}: a torch file that is not a state dict of tensors")
    return ModelFile(path, "state_dict")
