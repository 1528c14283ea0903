"""Attribution methods by CLI name, from Captum and pytorch-grad-cam, plus two baselines.

Every method maps a batch of model inputs ``B×3×H×W`` (normalised floats, as the model sees
them) and a *decision* (a module giving one score per image, see :mod:`.decisions`) to pixel
maps ``B×H×W``: channel attributions are summed over channels. Nothing is re-implemented:

- ``gradcam``, ``gradcam++``: pytorch-grad-cam on the network's last spatial feature map;
- ``ig``, ``gradshap``, ``saliency``, ``occlusion``: Captum, the whole batch per call;
- ``kernelshap``, ``lime``: Captum over scikit-image SLIC superpixels (square cells where SLIC
  finds a single segment), one surrogate per image (Captum fits them image by image) with
  ``perturbations_per_eval`` perturbations per forward;
- ``random`` (uniform noise) and ``center`` (a centred Gaussian prior): what a method that
  knows nothing about the image scores; they calibrate every regional metric.

The :data:`GRADIENT_METHODS` need a torch model; the others only call the decision forward, so
they also explain models run by onnxruntime or dlib (see :mod:`._imported`).

The baseline of IG, Occlusion, LIME and KernelSHAP is zero model input, i.e. the normalisation
mean colour; GradientSHAP draws around it (``stdevs``). LIME's surrogate is a ridge regression
(alpha 1, as in the LIME package) instead of Captum's default Lasso, which zeroes every weight
when logit differences are small.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from celebalab.datasets.schema import unknown_name_message
from celebalab.errors import CelebalabError
from celebalab.explain.config import METHOD_NAMES, AttributionSettings

#: Methods whose maps do not depend on the model (baselines).
BASELINES: tuple[str, ...] = ("random", "center")
#: Methods that need gradients from the score to the input (a torch model).
GRADIENT_METHODS: tuple[str, ...] = ("gradcam", "gradcam++", "ig", "gradshap", "saliency")
#: Gradient methods that also need a convolutional layer to hook.
CAM_METHODS: tuple[str, ...] = ("gradcam", "gradcam++")


def check_methods(names: Sequence[str]) -> tuple[str, ...]:
    """Validate method names (close-match hint on a typo); keep the given order, drop repeats."""
    for name in names:
        if name not in METHOD_NAMES:
            raise CelebalabError(unknown_name_message("method", name, METHOD_NAMES))
    return tuple(dict.fromkeys(names))


def attribute(
    method: str,
    decision: nn.Module,
    inputs: torch.Tensor,
    *,
    extra: tuple[torch.Tensor, ...] = (),
    images: np.ndarray | None = None,
    settings: AttributionSettings | None = None,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Attribution maps ``B×H×W`` (float32) of ``decision(inputs, *extra)`` (``B`` scores).

    ``inputs``: ``B×3×H×W`` model input; ``extra``: per-image tensors passed to the decision
    (the pair's other embedding); ``images``: the uint8 ``B×3×H×W`` pictures, needed by the
    superpixel methods; ``rng`` drives ``random``.
    """
    check_methods([method])
    if inputs.ndim != 4 or inputs.shape[1] != 3:
        raise ValueError(f"inputs must be B×3×H×W, got {tuple(inputs.shape)}")
    if method in ("kernelshap", "lime") and images is None:
        raise ValueError(f"{method} needs the uint8 images for its superpixels")
    if method in GRADIENT_METHODS and not all(
        getattr(m, "differentiable", True) for m in decision.modules()
    ):
        raise CelebalabError(f"{method} needs gradients; this model runs outside torch")
    return _METHODS[method](
        decision, inputs, extra, images, settings or AttributionSettings(), rng
    ).astype(np.float32)


def _captum(cls: type, init: Callable[[], dict] | None = None, **kwargs) -> Callable:
    """A runner for Captum class ``cls``; option values may be functions of the call."""

    def run(decision, inputs, extra, images, settings, rng):
        explainer = cls(decision, **(init() if init else {}))
        options = {
            k: (v(settings, inputs, images) if callable(v) else v) for k, v in kwargs.items()
        }
        with warnings.catch_warnings():  # Captum's "one surrogate per example" and grad notices
            warnings.simplefilter("ignore", UserWarning)
            maps = explainer.attribute(inputs, additional_forward_args=extra or None, **options)
        return maps.detach().sum(1).cpu().numpy()

    return run


def _superpixels(settings: AttributionSettings, inputs: torch.Tensor, images: np.ndarray):
    from skimage.segmentation import slic

    masks = []
    for img in np.asarray(images):
        segments = slic(np.moveaxis(img, 0, -1), n_segments=settings.superpixels, start_label=0)
        masks.append(segments if segments.max() > 0 else _grid(*segments.shape, settings))
    return torch.as_tensor(np.stack(masks)[:, None], device=inputs.device).long()


def _grid(height: int, width: int, settings: AttributionSettings) -> np.ndarray:
    """Square cells, about ``superpixels`` of them: where SLIC finds one segment (pure noise)."""
    side = max(1, round((height * width / settings.superpixels) ** 0.5))
    rows, cols = np.arange(height) // side, np.arange(width) // side
    return rows[:, None] * (cols.max() + 1) + cols[None, :]


def _zeros(settings: AttributionSettings, inputs: torch.Tensor, images) -> torch.Tensor:
    return torch.zeros_like(inputs[:1])


def _window(settings: AttributionSettings, inputs: torch.Tensor, images) -> tuple[int, int, int]:
    w = settings.occlusion_window or max(1, inputs.shape[-1] // 4)
    return (3, w, w)


def _stride(settings: AttributionSettings, inputs: torch.Tensor, images) -> tuple[int, int, int]:
    w = _window(settings, inputs, images)[1]
    return (3, max(1, w // 2), max(1, w // 2))


class _Scores(nn.Module):
    """``decision`` with its extra arguments bound, as the ``B×1`` output Grad-CAM expects."""

    def __init__(self, decision: nn.Module, extra: tuple[torch.Tensor, ...]) -> None:
        super().__init__()
        self.decision = decision
        self.extra = extra

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decision(x, *self.extra)[:, None]


def feature_layer(model: nn.Module, sample: torch.Tensor) -> nn.Module:
    """The module producing the network's last spatial (> 1×1) feature map, found by one forward.

    Forward hooks fire as modules finish, so for a stage holding the last convolution the
    outermost such module wins (``features`` of the small CNN, ``layer4`` of a ResNet).
    TorchScript modules accept no hooks and are passed over.
    """
    found: list[nn.Module] = []
    hooks = [
        mod.register_forward_hook(
            lambda mod, _inp, out: (
                found.append(mod)
                if isinstance(out, torch.Tensor) and out.ndim == 4 and min(out.shape[-2:]) > 1
                else None
            )
        )
        for mod in model.modules()
        if mod is not model and not isinstance(mod, torch.jit.ScriptModule)
    ]
    try:
        with torch.no_grad():
            model(sample[:1])
    finally:
        for hook in hooks:
            hook.remove()
    if not found:
        raise CelebalabError(
            "Grad-CAM needs a convolutional network (no spatial feature map found)"
        )
    return found[-1]


def _gradcam(cls_name: str) -> Callable:
    def run(decision, inputs, extra, images, settings, rng):
        import pytorch_grad_cam
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

        layer = feature_layer(decision.network, inputs)
        cls = getattr(pytorch_grad_cam, cls_name)
        with cls(model=_Scores(decision, extra), target_layers=[layer]) as cam:
            maps = cam(input_tensor=inputs, targets=[ClassifierOutputTarget(0)] * len(inputs))
        return np.asarray(maps)

    return run


def _random(decision, inputs, extra, images, settings, rng):
    rng = rng or np.random.default_rng(0)
    return rng.random((len(inputs), *inputs.shape[-2:]))


def _center(decision, inputs, extra, images, settings, rng):
    h, w = inputs.shape[-2:]
    y = (np.arange(h) - (h - 1) / 2) / (settings.center_sigma * h)
    x = (np.arange(w) - (w - 1) / 2) / (settings.center_sigma * w)
    prior = np.exp(-0.5 * (y[:, None] ** 2 + x[None, :] ** 2))
    return np.broadcast_to(prior, (len(inputs), h, w)).copy()


def _methods() -> dict[str, Callable]:
    from captum._utils.models.linear_model import SkLearnRidge
    from captum.attr import (
        GradientShap,
        IntegratedGradients,
        KernelShap,
        Lime,
        Occlusion,
        Saliency,
    )

    ppe = lambda s, i, m: s.perturbations_per_eval  # noqa: E731
    return {
        "gradcam": _gradcam("GradCAM"),
        "gradcam++": _gradcam("GradCAMPlusPlus"),
        "ig": _captum(
            IntegratedGradients,
            baselines=_zeros,
            n_steps=lambda s, i, m: s.ig_steps,
            internal_batch_size=lambda s, i, m: max(len(i), s.perturbations_per_eval),
        ),
        "gradshap": _captum(
            GradientShap,
            baselines=_zeros,
            n_samples=lambda s, i, m: s.gradshap_samples,
            stdevs=lambda s, i, m: s.gradshap_stdev,
        ),
        "kernelshap": _captum(
            KernelShap,
            baselines=0.0,
            feature_mask=_superpixels,
            n_samples=lambda s, i, m: s.shap_samples,
            perturbations_per_eval=ppe,
        ),
        "lime": _captum(
            Lime,
            init=lambda: {"interpretable_model": SkLearnRidge(alpha=1.0)},  # as the LIME paper
            baselines=0.0,
            feature_mask=_superpixels,
            n_samples=lambda s, i, m: s.lime_samples,
            perturbations_per_eval=ppe,
        ),
        "occlusion": _captum(
            Occlusion,
            baselines=0.0,
            sliding_window_shapes=_window,
            strides=_stride,
            perturbations_per_eval=ppe,
        ),
        "saliency": _captum(Saliency),
        "random": _random,
        "center": _center,
    }


class _LazyMethods(dict):
    """Imports Captum on first use (it is slow to import and the CLI's --help should not be)."""

    def __missing__(self, key: str) -> Callable:
        self.update(_methods())
        return self[key]


_METHODS: dict[str, Callable] = _LazyMethods()
