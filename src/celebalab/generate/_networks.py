"""DCGAN generator/discriminator pairs: the seed's small 32 px pair and the standard 64 px pair.

Both discriminators return **logits** (the seed's final ``Sigmoid`` is gone: a logits loss is
numerically safe under mixed precision, ``BCELoss`` on probabilities is not). A conditional
model feeds the attribute code (±1 per conditioned attribute) to the generator beside the noise
and scores it in the discriminator by projection (Miyato & Koyama 2018): the logit gains
``<embed(y), h>`` where ``h`` is the pooled last feature map.

``spectral_norm=True`` builds the SNGAN-style discriminator (Miyato et al. 2018): every conv
(and the projection) spectrally normalised, which bounds D's Lipschitz constant, and no
BatchNorm (batch statistics would undo that bound and couple real and fake batches).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import torch
from torch import nn

from celebalab.errors import CelebalabError

#: Noise dimension of both pairs (the seed's and DCGAN's 100).
NOISE_DIM = 100
#: Architecture per image size: generator widths (4×4 first), discriminator widths (first last).
ARCHITECTURES: dict[int, dict[str, object]] = {
    32: {"name": "dcgan32_seed", "g_widths": (128, 64, 32), "d_widths": (32, 64, 128)},
    64: {"name": "dcgan64", "g_widths": (512, 256, 128, 64), "d_widths": (64, 128, 256, 512)},
}


class Generator(nn.Module):
    """Transposed-convolution generator: ``(z, y)`` → ``N×3×S×S`` images in [-1, 1].

    ``S = 4 · 2^len(widths)``; ``z`` is ``N×noise_dim``, ``y`` ``N×cond_dim`` (±1) or None.
    """

    def __init__(self, *, widths: Sequence[int], noise_dim: int = NOISE_DIM, cond_dim: int = 0):
        super().__init__()
        self.noise_dim, self.cond_dim = noise_dim, cond_dim
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(noise_dim + cond_dim, widths[0], 4, 1, 0, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(True),
        ]
        for cin, cout in pairwise(widths):
            layers += [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout)]
            layers.append(nn.ReLU(True))
        layers += [nn.ConvTranspose2d(widths[-1], 3, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Images ``N×3×S×S`` in [-1, 1] from noise ``N×noise_dim`` (and code ``N×cond_dim``)."""
        if self.cond_dim:
            z = torch.cat([z, y.to(z.dtype)], dim=1)
        return self.main(z[:, :, None, None])


class Discriminator(nn.Module):
    """Strided-convolution discriminator: ``N×3×S×S`` images (and codes) → ``N`` logits.

    ``batch_norm=False`` leaves BatchNorm out (the spectrally normalised discriminator).
    """

    def __init__(self, *, widths: Sequence[int], cond_dim: int = 0, batch_norm: bool = True):
        super().__init__()
        self.cond_dim = cond_dim
        layers: list[nn.Module] = [nn.Conv2d(3, widths[0], 4, 2, 1, bias=False)]
        layers.append(nn.LeakyReLU(0.2, inplace=True))
        for cin, cout in pairwise(widths):
            layers.append(nn.Conv2d(cin, cout, 4, 2, 1, bias=False))
            layers += [nn.BatchNorm2d(cout)] if batch_norm else []
            layers.append(nn.LeakyReLU(0.2, inplace=True))
        self.features = nn.Sequential(*layers)
        self.out = nn.Conv2d(widths[-1], 1, 4, 1, 0, bias=False)
        self.embed = nn.Linear(cond_dim, widths[-1], bias=False) if cond_dim else None

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Logits ``N`` (real > 0) for images ``N×3×S×S`` in [-1, 1] and codes ``N×cond_dim``."""
        h = self.features(x)
        logits = self.out(h).flatten()
        if self.embed is not None:
            logits = logits + (self.embed(y.to(h.dtype)) * h.sum(dim=(2, 3))).sum(dim=1)
        return logits


def dcgan_init(module: nn.Module) -> None:
    """DCGAN initialisation: conv weights N(0, 0.02), BatchNorm scale N(1, 0.02), shift 0."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def spectral_normalise(module: nn.Module) -> None:
    """Put spectral normalisation on every conv and linear layer inside ``module``.

    Done after initialisation: the power iteration then starts from the initialised weights.
    """
    for layer in list(module.modules()):
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            nn.utils.parametrizations.spectral_norm(layer)


def build_pair(
    size: int, cond_dim: int = 0, *, spectral_norm: bool = False
) -> tuple[Generator, Discriminator]:
    """Freshly initialised (generator, discriminator) for ``size`` px (32 or 64)."""
    if size not in ARCHITECTURES:
        raise CelebalabError(f"--size {size}: GAN sizes are {', '.join(map(str, ARCHITECTURES))}")
    arch = ARCHITECTURES[size]
    gen = Generator(widths=arch["g_widths"], cond_dim=cond_dim)
    disc = Discriminator(widths=arch["d_widths"], cond_dim=cond_dim, batch_norm=not spectral_norm)
    gen.apply(dcgan_init)
    disc.apply(dcgan_init)
    if spectral_norm:
        spectral_normalise(disc)
    return gen, disc


def attribute_code(labels: torch.Tensor) -> torch.Tensor:
    """0/1 attribute labels ``N×K`` → the ±1 float code the networks take."""
    return labels.float() * 2 - 1
