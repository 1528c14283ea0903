"""The DCGAN pairs: the seed's 32 px networks layer for layer, the standard 64 px shapes,
and conditioning that reaches both networks."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from celebalab.errors import CelebalabError
from celebalab.generate._networks import attribute_code, build_pair


def _seed_pair() -> tuple[nn.Module, nn.Module]:
    """Seed 004's Generator and Discriminator, as written there (its final Sigmoid left out)."""
    gen = nn.Sequential(
        nn.ConvTranspose2d(100, 128, 4, 1, 0, bias=False), nn.BatchNorm2d(128), nn.ReLU(True),
        nn.ConvTranspose2d(128, 64, 4, 2, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(True),
        nn.ConvTranspose2d(64, 32, 4, 2, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU(True),
        nn.ConvTranspose2d(32, 3, 4, 2, 1, bias=False), nn.Tanh(),
    )  # fmt: skip
    disc = nn.Sequential(
        nn.Conv2d(3, 32, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(32, 64, 4, 2, 1, bias=False), nn.BatchNorm2d(64), nn.LeakyReLU(0.2, True),
        nn.Conv2d(64, 128, 4, 2, 1, bias=False), nn.BatchNorm2d(128), nn.LeakyReLU(0.2, True),
        nn.Conv2d(128, 1, 4, 1, 0, bias=False),
    )  # fmt: skip
    return gen, disc


def test_32px_pair_is_the_seeds_networks() -> None:
    gen, disc = build_pair(32)
    seed_gen, seed_disc = _seed_pair()
    seed_disc_state = seed_disc.state_dict()
    # Same tensors in the same order (ours splits D into features + out).
    assert [v.shape for v in gen.main.state_dict().values()] == [
        v.shape for v in seed_gen.state_dict().values()
    ]
    ours = [*disc.features.state_dict().values(), *disc.out.state_dict().values()]
    assert [v.shape for v in ours] == [v.shape for v in seed_disc_state.values()]
    # Loaded with our weights, the seed's networks compute exactly what ours do.
    seed_gen.load_state_dict(
        dict(zip(seed_gen.state_dict(), gen.main.state_dict().values(), strict=True))
    )
    seed_disc.load_state_dict(dict(zip(seed_disc_state, ours, strict=True)))
    gen.eval(), seed_gen.eval(), disc.eval(), seed_disc.eval()
    z = torch.randn(5, 100)
    images = gen(z)
    torch.testing.assert_close(images, seed_gen(z[:, :, None, None]))
    torch.testing.assert_close(disc(images), seed_disc(images).flatten())


def test_64px_pair_shapes_and_range() -> None:
    gen, disc = build_pair(64)
    images = gen(torch.randn(3, 100))
    assert images.shape == (3, 3, 64, 64) and images.abs().max() <= 1
    assert disc(images).shape == (3,)
    with pytest.raises(CelebalabError, match="sizes"):
        build_pair(128)


def test_conditioning_reaches_both_networks() -> None:
    torch.manual_seed(0)
    gen, disc = build_pair(32, cond_dim=2)
    gen.eval(), disc.eval()
    z = torch.randn(4, 100)
    y = attribute_code(torch.tensor([[1, 0]] * 4))
    assert torch.equal(y, torch.tensor([[1.0, -1.0]] * 4))
    flipped = -y
    assert not torch.allclose(gen(z, y), gen(z, flipped))
    images = gen(z, y)
    assert not torch.allclose(disc(images, y), disc(images, flipped))


def test_spectrally_normalised_discriminator_has_unit_norm_layers_and_no_batchnorm() -> None:
    from torch.nn.utils import parametrize

    torch.manual_seed(0)
    _, disc = build_pair(32, 2, spectral_norm=True)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in disc.modules())
    layers = [m for m in disc.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert layers and all(parametrize.is_parametrized(m, "weight") for m in layers)
    for _ in range(20):  # power iterations (one per training-mode forward)
        disc(torch.randn(4, 3, 32, 32), torch.ones(4, 2))
    for layer in layers:
        sigma = torch.linalg.matrix_norm(layer.weight.detach().flatten(1), ord=2)
        assert abs(float(sigma) - 1.0) < 0.05


def test_augmentation_draws_only_from_the_step_stream() -> None:
    from celebalab.generate._augment import build_augment

    augment = build_augment(("color", "translation", "cutout"))
    images = torch.rand(8, 3, 32, 32) * 2 - 1
    state = torch.random.get_rng_state()
    first = augment(images, torch.Generator().manual_seed(3))
    assert torch.equal(torch.random.get_rng_state(), state)  # the global generator untouched
    torch.manual_seed(99)
    assert torch.equal(augment(images, torch.Generator().manual_seed(3)), first)
    assert not torch.equal(augment(images, torch.Generator().manual_seed(4)), first)
    assert build_augment(()) is None
    fake = images.clone().requires_grad_()
    augment(fake, torch.Generator().manual_seed(3)).sum().backward()
    assert fake.grad is not None and fake.grad.abs().sum() > 0  # differentiable: G learns


def test_cutout_blanks_a_quarter_of_each_image() -> None:
    from celebalab.generate._augment import build_augment

    images = torch.ones(6, 3, 32, 32)
    out = build_augment(("cutout",))(images, torch.Generator().manual_seed(0))
    grey = (out == 0.0).all(dim=1).float().mean(dim=(1, 2))  # mid-grey is 0 in [-1, 1]
    torch.testing.assert_close(grey, torch.full((6,), 0.25), atol=0.03, rtol=0)
