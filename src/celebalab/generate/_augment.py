"""Differentiable augmentation of the discriminator's inputs (DiffAugment, Zhao et al. 2020).

With few images the discriminator memorises the real ones and stops teaching the generator.
DiffAugment transforms real **and** fake batches the same random way before every
discriminator call, the generator step included; the transforms are differentiable, so the
generator learns through them and never learns to draw them. The transforms are Kornia's:

- ``color``: brightness ±0.25 (additive), saturation ×[0, 2], contrast ×[0.5, 1.5];
- ``translation``: a shift of up to 1/8 of the side, zero-padded;
- ``cutout``: a square of half the side, at a random place, set to mid-grey.

Exact resume: Kornia draws its parameters from torch's global CPU generator; each call seeds
it, inside ``fork_rng`` (the global state is restored after), from the step's own stream.
"""

from __future__ import annotations

import torch
from torch import nn

from celebalab.generate.config import POLICIES


def _family(name: str) -> list[nn.Module]:
    import kornia.augmentation as K

    if name == "color":
        return [
            K.RandomBrightness((0.75, 1.25), clip_output=False, p=1.0),
            K.RandomSaturation((0.0, 2.0), p=1.0),
            K.RandomContrast((0.5, 1.5), clip_output=False, p=1.0),
        ]
    if name == "translation":
        return [K.RandomTranslate((-0.125, 0.125), (-0.125, 0.125), p=1.0)]
    return [K.RandomErasing(scale=(0.25, 0.25), ratio=(1.0, 1.0), value=0.5, p=1.0)]


class DiffAugment(nn.Module):
    """The ``policies`` (a subset of :data:`POLICIES`) as one differentiable transform.

    Call with images in [-1, 1] and the step's ``torch.Generator``; returns float32 images.
    """

    def __init__(self, policies: tuple[str, ...]) -> None:
        super().__init__()
        ordered = [name for name in POLICIES if name in policies]
        self.policies = tuple(ordered)
        self.transforms = nn.Sequential(*(t for name in ordered for t in _family(name)))

    def forward(self, images: torch.Tensor, stream: torch.Generator) -> torch.Tensor:
        """``images`` transformed with parameters drawn from ``stream`` (kept on the CPU)."""
        seed = int(torch.randint(2**62, (1,), generator=stream))
        with torch.random.fork_rng(devices=[]):
            torch.random.default_generator.manual_seed(seed)
            unit = (images.float() + 1.0) * 0.5
            return self.transforms(unit) * 2.0 - 1.0


def build_augment(policies: tuple[str, ...]) -> DiffAugment | None:
    """The augmentation of a run, or None when ``policies`` is empty."""
    return DiffAugment(policies) if policies else None
