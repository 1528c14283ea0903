"""Classifier networks: torchvision backbones (never downloaded) plus a small CPU-friendly CNN.

Every network maps a normalised float batch ``N×3×S×S`` to ``N×K`` logits, one per predicted
attribute. Input normalisation lives in :func:`normalise_uint8` so that training, evaluation and
prediction turn uint8 images into model input in exactly the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from celebalab.errors import CelebalabError
from celebalab.models import ARCHITECTURES

#: ImageNet statistics (0–1 pixel scale): the normalisation of every pretrained torchvision model.
IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)


class WeightsError(CelebalabError):
    """A ``--weights`` file is missing, unreadable or fits none of the model's layers."""


class SmallCNN(nn.Module):
    """Compact CNN that trains in minutes on a laptop CPU at 128 px.

    A 4×4 stride-4 "patchify" stem (as in ConvNeXt) turns 128 px into 32×32 without discarding
    pixels, so small parts (eyes, lips, earrings: a few pixels at 64 px) keep their detail while
    costing no more than a 64 px input would through 3×3 stride-2 stems. Then three stride-2
    stages (conv-BN-ReLU, the first two followed by a second 3×3 conv) take 32×32 to 4×4 with
    64→256 channels, global average pooling, dropout and a linear head: about 0.6 M parameters
    and 35 MMAC per 128 px image.
    """

    def __init__(self, num_outputs: int, width: int = 32, dropout: float = 0.2) -> None:
        super().__init__()
        w = width
        self.features = nn.Sequential(
            _conv_bn(3, w, kernel=4, stride=4),
            _conv_bn(w, 2 * w, stride=2),
            _conv_bn(2 * w, 2 * w),
            _conv_bn(2 * w, 4 * w, stride=2),
            _conv_bn(4 * w, 4 * w),
            _conv_bn(4 * w, 8 * w, stride=2),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Dropout(dropout), nn.Linear(8 * w, num_outputs)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``N×num_outputs`` for a normalised batch ``N×3×H×W``."""
        return self.classifier(self.pool(self.features(x)))


def _conv_bn(cin: int, cout: int, kernel: int = 3, stride: int = 1) -> nn.Sequential:
    """Conv (odd kernels padded to keep the size; even ones tile the input) + BN + ReLU."""
    padding = kernel // 2 if kernel % 2 else 0
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


def build_model(arch: str, num_outputs: int) -> nn.Module:
    """A freshly initialised ``arch`` with a ``num_outputs``-logit head (no weights downloaded)."""
    import torchvision.models as tvm

    if arch == "small_cnn":
        return SmallCNN(num_outputs)
    if arch == "mobilenet_v2":
        model = tvm.mobilenet_v2(weights=None)
        model.classifier[-1] = nn.Linear(model.last_channel, num_outputs)
        return model
    if arch in ("resnet18", "resnet50"):
        model = getattr(tvm, arch)(weights=None)
        model.fc = nn.Linear(model.fc.in_features, num_outputs)
        return model
    from celebalab.datasets.schema import unknown_name_message

    raise CelebalabError(unknown_name_message("architecture", arch, ARCHITECTURES))


def classifier_head(model: nn.Module) -> nn.Linear:
    """The final linear layer of a network built by :func:`build_model`.

    Its input is the penultimate feature vector (after pooling and, in eval mode, the identity
    dropout): what :func:`celebalab.models.inference.extract_features` returns.
    """
    head = getattr(model, "fc", None)
    if head is None and isinstance(getattr(model, "classifier", None), nn.Sequential):
        head = model.classifier[-1]
    if not isinstance(head, nn.Linear):
        raise TypeError(f"{type(model).__name__}: no final linear layer (fc or classifier[-1])")
    return head


def load_pretrained(model: nn.Module, path: str | Path) -> tuple[list[str], list[str]]:
    """Load a local state dict (e.g. downloaded ImageNet weights) into ``model``, non-strictly.

    Tensors whose shape differs from the model's (the 1000-class ImageNet head) are skipped and
    reported as missing. Accepts a bare state dict, a ``{"state_dict": …}``/``{"model": …}``
    wrapper or a Lightning checkpoint. Returns ``(missing_keys, unexpected_keys)``.
    """
    path = Path(path)
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise WeightsError(f"{path}: weights file not found") from None
    except Exception as err:
        raise WeightsError(f"{path}: not a readable PyTorch weights file ({err})") from None
    state = _unwrap_state_dict(raw, path)
    own = model.state_dict()
    fitting = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if not fitting:
        raise WeightsError(f"{path}: no tensor matches a layer of this architecture")
    result = model.load_state_dict(fitting, strict=False)
    unexpected = sorted(set(state) - set(fitting))
    return list(result.missing_keys), unexpected


def _unwrap_state_dict(raw: object, path: Path) -> dict[str, torch.Tensor]:
    for key in ("state_dict", "model"):
        if isinstance(raw, dict) and isinstance(raw.get(key), dict):
            raw = raw[key]
    if not isinstance(raw, dict) or not all(isinstance(v, torch.Tensor) for v in raw.values()):
        raise WeightsError(f"{path}: expected a state dict of tensors")
    prefixes = ("model.", "module.")
    return {_strip(k, prefixes): v for k, v in raw.items()}


def _strip(key: str, prefixes: Sequence[str]) -> str:
    for prefix in prefixes:
        if key.startswith(prefix):
            return key[len(prefix) :]
    return key


def normalise_uint8(
    batch: torch.Tensor, mean: Sequence[float], std: Sequence[float], channels_last: bool = False
) -> torch.Tensor:
    """uint8 images (``N×3×H×W`` or ``N×H×W×3``) → float32 model input, on the batch's device.

    ``mean``/``std`` are per channel on the 0–1 pixel scale. Runs wherever ``batch`` lives, so on a
    GPU only uint8 bytes cross the bus and the arithmetic happens on the device.
    """
    if batch.ndim != 4:
        raise ValueError(f"expected a 4-d image batch, got shape {tuple(batch.shape)}")
    if batch.shape[1] != 3 and batch.shape[-1] == 3:
        batch = batch.permute(0, 3, 1, 2)
    m = torch.tensor(mean, device=batch.device, dtype=torch.float32).view(1, 3, 1, 1) * 255.0
    s = torch.tensor(std, device=batch.device, dtype=torch.float32).view(1, 3, 1, 1) * 255.0
    out = (batch.float() - m) / s
    if channels_last:
        return out.contiguous(memory_format=torch.channels_last)
    return out.contiguous()
