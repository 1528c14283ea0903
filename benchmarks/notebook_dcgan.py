"""The reference notebook's DCGAN loop ("the seed loop"), re-implemented faithfully.

Its networks with the final Sigmoid, ``BCELoss``, ``ImageFolder`` + PIL decoding every JPEG per
item, ``Resize((32, 32))`` of the whole image, batch 32, Adam 2e-4 with betas (0.5, 0.999), one
D step on ``fake.detach()`` then one G step on the same fake batch; its CUDA-only
``autocast``/``GradScaler`` are no-ops on the CPU and are left out (the only change needed to run
it there). Used by ``bench_gan.py`` for speed (a number of images) and for quality (a wall-clock
budget, after which the generator is kept).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

SEED_BATCH = 32


def notebook_networks() -> tuple[Any, Any]:
    """The notebook's (Generator, Discriminator), as it wrote them."""
    from torch import nn

    class Generator(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.main = nn.Sequential(
                nn.ConvTranspose2d(100, 128, 4, 1, 0, bias=False), nn.BatchNorm2d(128),
                nn.ReLU(True), nn.ConvTranspose2d(128, 64, 4, 2, 1, bias=False),
                nn.BatchNorm2d(64), nn.ReLU(True),
                nn.ConvTranspose2d(64, 32, 4, 2, 1, bias=False), nn.BatchNorm2d(32),
                nn.ReLU(True), nn.ConvTranspose2d(32, 3, 4, 2, 1, bias=False), nn.Tanh(),
            )  # fmt: skip

        def forward(self, x):
            return self.main(x)

    class Discriminator(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.main = nn.Sequential(
                nn.Conv2d(3, 32, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
                nn.Conv2d(32, 64, 4, 2, 1, bias=False), nn.BatchNorm2d(64),
                nn.LeakyReLU(0.2, inplace=True), nn.Conv2d(64, 128, 4, 2, 1, bias=False),
                nn.BatchNorm2d(128), nn.LeakyReLU(0.2, inplace=True),
                nn.Conv2d(128, 1, 4, 1, 0, bias=False), nn.Sigmoid(),
            )  # fmt: skip

        def forward(self, x):
            return self.main(x)

    return Generator(), Discriminator()


def notebook_train(
    image_folder: Path, threads: int, *, images: int | None = None,
    seconds: float | None = None, clock: Callable[[], float] = time.perf_counter,
    part: str = "whole",
) -> tuple[dict[str, Any], Any]:  # fmt: skip
    """The notebook's loop until ``images`` training images or ``seconds`` on ``clock``
    (counted from before the data set is opened, as ``gan train`` counts its budget).

    Returns (images/s over the loop, seconds, images, steps, peak RSS; the generator).
    ``part``: ``whole`` (the loop as the notebook wrote it), ``data`` (its loader alone:
    decode, resize, normalise, batch; no training) or ``steps`` (its training steps alone, on
    one decoded batch reused): what its time is made of.
    """
    import psutil
    import torch
    from torch import nn, optim
    from torch.utils.data import DataLoader
    from torchvision import datasets, transforms

    called, wall = clock(), time.perf_counter()
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    transform = transforms.Compose([
        transforms.Resize((32, 32)), transforms.ToTensor(),
        transforms.Normalize(mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5]),
    ])  # fmt: skip
    dataset = datasets.ImageFolder(root=str(image_folder), transform=transform)
    loader = DataLoader(dataset, batch_size=SEED_BATCH, shuffle=True)
    net_g, net_d = notebook_networks()
    criterion = nn.BCELoss()
    opt_d = optim.Adam(net_d.parameters(), lr=0.0002, betas=(0.5, 0.999))
    opt_g = optim.Adam(net_g.parameters(), lr=0.0002, betas=(0.5, 0.999))
    batches = _batches(loader, part)

    def done_yet(count: int) -> bool:
        if images is not None and count >= images:
            return True
        return seconds is not None and clock() - called >= seconds

    done = steps = 0
    start = clock()
    while not done_yet(done):
        for data in batches():
            done += data[0].size(0)
            if part != "data":
                net_d.zero_grad()
                real = data[0]
                n = real.size(0)
                real_labels = torch.ones(n)
                loss_real = criterion(net_d(real).view(-1), real_labels)
                loss_real.backward()
                noise = torch.randn(n, 100, 1, 1)
                fake = net_g(noise)
                loss_fake = criterion(net_d(fake.detach()).view(-1), torch.zeros(n))
                loss_fake.backward()
                opt_d.step()
                net_g.zero_grad()
                loss_g = criterion(net_d(fake).view(-1), real_labels)
                loss_g.backward()
                opt_g.step()
                steps += 1
            if done_yet(done):
                break
    loop = clock() - start
    result = {
        "images_per_second": done / loop, "seconds": clock() - called,
        "wall_seconds": time.perf_counter() - wall,
        "images": done, "steps": steps, "epochs": done / len(dataset),
        "peak_rss_mib": psutil.Process().memory_info().rss / 2**20,
    }  # fmt: skip
    return result, net_g


def _batches(loader: Any, part: str) -> Callable[[], Iterator[Any]]:
    """The batches one pass of the loop sees: its loader's, or (``steps``) one decoded batch
    repeated as often."""
    if part != "steps":
        return lambda: iter(loader)
    batch = next(iter(loader))
    return lambda: (batch for _ in range(len(loader)))
