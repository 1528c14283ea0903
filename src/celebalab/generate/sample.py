"""``celebalab gan sample``: faces from a trained generator, deterministic for a seed.

Noise is drawn on the CPU from ``torch.Generator().manual_seed(seed)`` in one block, so the same
seed gives the same faces whatever the batch size. Conditional runs take ``attrs`` (e.g.
``{"Smiling": 1, "Male": 0}``); attributes left out are drawn per face from the 50/50 prior.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from celebalab.errors import CelebalabError, OptionError
from celebalab.generate._data import nchw, resize_bicubic, to_uint8
from celebalab.generate._monitor import grid_columns, image_grid
from celebalab.generate._networks import NOISE_DIM, attribute_code
from celebalab.generate.options import SampleOptions
from celebalab.generate.run import LoadedGan
from celebalab.io import atomic_path, check_output_file

#: Longest side of any PNG written here: a larger request is capped and said, never allocated
#: (``--upscale 1000`` on a 64-face grid would need 49 GB).
MAX_SIDE = 8192
#: Faces shown in the grid at most (a 100,000-face grid is a 260 MB PNG); ``--each`` has all.
MAX_GRID_FACES = 1024
#: Attribute combinations drawn by :func:`combination_rows` at most (4 attributes).
MAX_COMBINATIONS = 16


def sample_images(
    run: LoadedGan, n: int, *, seed: int = 0, attrs: dict[str, int] | None = None,
    batch_size: int = 256,
) -> np.ndarray:  # fmt: skip
    """``n`` generated faces, uint8 ``n×S×S×3``; ``attrs`` fixes conditioned attributes
    (``n`` and ``seed`` checked as :class:`~celebalab.generate.options.SampleOptions`)."""
    SampleOptions(n=n, seed=seed)
    attrs = attrs or {}
    unknown = sorted(set(attrs) - set(run.conditional))
    if unknown:
        have = ", ".join(run.conditional) or "nothing (unconditional run)"
        raise CelebalabError(f"{run.run_dir}: conditioned on {have}; cannot set {unknown}")
    z, labels = _inputs(run, n, seed, attrs)
    return _generate(run, z, labels, batch_size)


def sample_with_labels(
    run: LoadedGan, labels: np.ndarray, *, seed: int = 0, batch_size: int = 256
) -> np.ndarray:
    """Faces for given 0/1 label rows ``n×K`` (in ``run.conditional`` order)."""
    stream = torch.Generator().manual_seed(seed)
    z = torch.randn(len(labels), NOISE_DIM, generator=stream)
    return _generate(run, z, torch.as_tensor(labels), batch_size)


def combination_rows(
    run: LoadedGan, per: int = 8, *, seed: int = 0
) -> list[tuple[str, np.ndarray]]:
    """``per`` faces for each combination of the conditioned attributes, the same noise in
    every combination (so a column differs only by the attributes): ``(label, uint8 images)``.

    At most :data:`MAX_COMBINATIONS` combinations (those of the first attributes when more are
    conditioned; the others are then set to 0).
    """
    k = len(run.conditional)
    z = torch.randn(per, NOISE_DIM, generator=torch.Generator().manual_seed(seed))
    rows = []
    for combo in range(min(2**k, MAX_COMBINATIONS)):
        bits = [(combo >> j) & 1 for j in range(k)]
        labels = torch.tensor([bits] * per)
        label = ", ".join(f"{name}={bit}" for name, bit in zip(run.conditional, bits, strict=True))
        rows.append((label, _generate(run, z, labels, per)))
    return rows


def _inputs(
    run: LoadedGan, n: int, seed: int, attrs: dict[str, int]
) -> tuple[torch.Tensor, torch.Tensor | None]:
    stream = torch.Generator().manual_seed(seed)
    z = torch.randn(n, NOISE_DIM, generator=stream)
    if not run.conditional:
        return z, None
    labels = torch.randint(0, 2, (n, len(run.conditional)), generator=stream)
    for k, name in enumerate(run.conditional):
        if name in attrs:
            labels[:, k] = attrs[name]
    return z, labels


@torch.inference_mode()
def _generate(
    run: LoadedGan, z: torch.Tensor, labels: torch.Tensor | None, batch_size: int
) -> np.ndarray:
    chunks = []
    for start in range(0, len(z), batch_size):
        code = None if labels is None else attribute_code(labels[start : start + batch_size])
        chunks.append(to_uint8(run.generator(z[start : start + batch_size], code)))
    return np.concatenate(chunks)


def check_grid_path(path: Path, overwrite: bool) -> None:
    """Refuse, before any sampling, a grid path that is no ``.png`` file name."""
    check_output_file(path, "--out", overwrite)
    if path.suffix.lower() != ".png":
        raise OptionError(f"--out {path}: the grid is a PNG image; give a .png file name")


def fit_output(n: int, size: int, upscale: int) -> tuple[int, int, list[str]]:
    """(faces in the grid, upscale) keeping every PNG within :data:`MAX_SIDE`, and a note for
    each cap."""
    notes = []
    shown = min(n, MAX_GRID_FACES)
    if shown < n:
        notes.append(f"--n {n}: the grid shows the first {shown} faces (--each DIR writes all)")
    columns = grid_columns(shown)
    most = max(1, ((MAX_SIDE - 2) // columns - 2) // size)  # make_grid: 2 px padding per tile
    if upscale > most:
        notes.append(f"--upscale {upscale}: capped at {most} (images at most {MAX_SIDE} px a side)")
        upscale = most
    return shown, upscale, notes


def write_samples(
    images: np.ndarray, grid_path: Path, each_dir: Path | None = None, upscale: int = 1,
    overwrite: bool = False,
) -> list[str]:  # fmt: skip
    """Save a grid (and one PNG per face in ``each_dir``); ``upscale`` enlarges bicubically.

    Returns the notes of :func:`fit_output` (what was capped to keep the files a sane size).
    ``upscale`` is checked as :class:`~celebalab.generate.options.SampleOptions`.
    """
    SampleOptions(upscale=upscale)
    from PIL import Image

    check_grid_path(grid_path, overwrite)
    shown, upscale, notes = fit_output(len(images), images.shape[1], upscale)
    faces = [] if each_dir is None else [each_dir / f"face_{i:05d}.png" for i in range(len(images))]
    targets = [grid_path, *faces]
    existing = [p for p in targets if p.exists()]
    if existing and not overwrite:
        raise CelebalabError(f"{existing[0]}: exists; pass --overwrite to replace it")
    with atomic_path(grid_path) as tmp:
        Image.fromarray(image_grid(images[:shown], upscale=upscale)).save(tmp, format="PNG")
    if each_dir is not None:
        tiles = nchw(images)
        if upscale > 1:
            tiles = resize_bicubic(tiles, tiles.shape[-1] * upscale)
        for path, tile in zip(targets[1:], tiles.permute(0, 2, 3, 1).numpy(), strict=True):
            with atomic_path(path) as tmp:
                Image.fromarray(tile).save(tmp, format="PNG")
    return notes
