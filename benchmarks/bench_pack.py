"""Packed cache build speed and memory: ``pack_images`` at 64 px vs a plain per-image PIL loop.

Writes N synthetic 178×218 JPEGs (CelebA aligned size, ~10 KB each) in the official layout, then
measures, in the same run:

- baseline: ``Image.open(p).convert("RGB").resize((64, 64))`` for every image, one process, as a
  user would write it;
- ``pack_images(root, 64, workers=2)`` in a fresh child process (so its peak RSS, and that of its
  workers, is its own), for N and for N/5 images: peak memory must not grow with N.

The JPEGs are freshly written, so both sides read them from the page cache.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

SIZE, WORKERS = 64, 2


def make_dataset(root: Path, n: int, seed: int = 0) -> list[str]:
    """``n`` distinct face-sized JPEGs plus the two annotation files the metadata table needs."""
    rng = np.random.default_rng(seed)
    folder = root / "img_align_celeba"
    folder.mkdir(parents=True)
    ids = [f"{i:06d}.jpg" for i in range(1, n + 1)]
    bases = [_smooth_image(rng) for _ in range(16)]
    for k, image_id in enumerate(ids):
        shift = rng.integers(-40, 40, size=2)
        noise = rng.normal(0, 3, bases[0].shape)
        pixels = np.roll(bases[k % 16], tuple(shift), axis=(0, 1)) + noise
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(
            folder / image_id, quality=90
        )
    write_annotations(root, ids)
    return ids


def _smooth_image(rng: np.random.Generator) -> np.ndarray:
    coarse = (rng.random((13, 11, 3)) * 255).astype(np.uint8)
    return np.asarray(Image.fromarray(coarse).resize((178, 218), Image.Resampling.BICUBIC), float)


def write_annotations(root: Path, ids: list[str]) -> None:
    """Official ``list_eval_partition.txt`` and ``list_attr_celeba.txt`` (CRLF, count line)."""
    from celebalab.datasets.schema import ATTRIBUTE_NAMES

    crlf = "\r\n"
    parts = "".join(f"{i} 0{crlf}" for i in ids)
    (root / "list_eval_partition.txt").write_bytes(parts.encode())
    values = " ".join(["-1"] * len(ATTRIBUTE_NAMES))
    header = f"{len(ids)}{crlf}{' '.join(ATTRIBUTE_NAMES)} {crlf}"
    rows = "".join(f"{i} {values}{crlf}" for i in ids)
    (root / "list_attr_celeba.txt").write_bytes((header + rows).encode())


def subset(big: Path, root: Path, n: int) -> None:
    """A dataset listing the first ``n`` images of ``big`` (images shared through a symlink)."""
    root.mkdir(parents=True)
    (root / "img_align_celeba").symlink_to(big / "img_align_celeba", target_is_directory=True)
    write_annotations(root, [f"{i:06d}.jpg" for i in range(1, n + 1)])


def cpu_seconds() -> float:
    """User + system CPU time of this process and of its finished children."""
    own, kids = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def baseline(folder: Path, ids: list[str]) -> tuple[float, float]:
    """Images per wall second and per CPU second of the plain single-process PIL loop."""
    start, cpu = time.perf_counter(), cpu_seconds()
    for image_id in ids:
        np.asarray(Image.open(folder / image_id).convert("RGB").resize((SIZE, SIZE)))
    return len(ids) / (time.perf_counter() - start), len(ids) / (cpu_seconds() - cpu)


def child(root: Path) -> None:
    """Pack ``root`` in this process and print timings and peak RSS (MiB) as JSON."""
    from celebalab.datasets.packed import pack_images

    cpu = cpu_seconds()
    result = pack_images(root, SIZE, workers=WORKERS)
    cpu = cpu_seconds() - cpu
    mib = 1024  # ru_maxrss is in KiB on Linux
    print(
        json.dumps(
            {
                "rows": result.count,
                "seconds": result.seconds,
                "images_per_s": result.images_per_second,
                "decode_images_per_s": result.rows_packed / result.decode_seconds,
                "images_per_cpu_s": result.rows_packed / cpu,
                "parent_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / mib,
                "worker_rss": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / mib,
            }
        )
    )


def run_child(root: Path, cache: Path) -> dict[str, float]:
    """Run ``child`` in a fresh interpreter with its own cache folder; return its figures."""
    env = {**os.environ, "CELEBALAB_CACHE": str(cache)}
    cmd = [sys.executable, __file__, "--child", str(root)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode:
        raise SystemExit(f"pack of {root} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1,000 images instead of 5,000")
    parser.add_argument("--n", type=int, help="number of images (overrides --quick)")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return 0
    n = args.n or (1_000 if args.quick else 5_000)
    with tempfile.TemporaryDirectory(prefix="bench_pack_") as tmp:
        big, small = Path(tmp) / "big", Path(tmp) / "small"
        start = time.perf_counter()
        ids = make_dataset(big, n)
        subset(big, small, n // 5)
        print(f"wrote {n} JPEGs 178x218 in {time.perf_counter() - start:.1f} s")

        base, base_cpu = baseline(big / "img_align_celeba", ids)
        large = run_child(big, Path(tmp) / "cache")
        little = run_child(small, Path(tmp) / "cache")
    print(
        f"baseline PIL loop (1 process, open+convert+resize {SIZE}px): {base:.0f} images/s, "
        f"{base_cpu:.0f} images per CPU-second"
    )
    for name, r in (("pack", large), ("pack", little)):
        print(
            f"{name} {r['rows']:>6} rows at {SIZE}px, workers={WORKERS}: {r['images_per_s']:6.0f} "
            f"images/s over the whole call ({r['seconds']:.2f} s), decoding phase "
            f"{r['decode_images_per_s']:.0f} images/s, {r['images_per_cpu_s']:.0f} images per "
            f"CPU-second; peak RSS parent {r['parent_rss']:.0f} MiB, largest worker "
            f"{r['worker_rss']:.0f} MiB"
        )
    print(
        f"speed-up vs baseline: {large['images_per_s'] / base:.2f}x wall-clock, "
        f"{large['images_per_cpu_s'] / base_cpu:.2f}x per CPU-second "
        f"(wall-clock figures depend on what else runs on the {os.cpu_count()} cores)"
    )
    grow = large["worker_rss"] - little["worker_rss"]
    extra = (n - n // 5) * SIZE * SIZE * 3 / 2**20
    print(
        f"peak worker RSS at N={n} minus N={n // 5}: {grow:+.1f} MiB "
        f"(the {n - n // 5} extra packed images are {extra:.0f} MiB)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
