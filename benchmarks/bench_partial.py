"""A partial CelebA copy: ``data pack`` and ``embed extract`` cost what the images present cost.

The usual state of a partial download, a course subset or a copy being unpacked: the official
annotation files (all 202,599 rows) with only a few thousand images present. This benchmark
writes such a copy itself (official-format files, 178×218 JPEGs for every k-th id: 6,032 of
them, 1,000 with ``--quick``) and a full copy of the same images (annotation files listing only
them, the image folder shared through a symlink), then runs, for each, as a user would (one
fresh ``celebalab`` process per command, progress bars on):

- ``celebalab data pack ROOT --size 64 --workers 2``
- ``celebalab embed extract RUN ROOT --out EMB`` (an untrained 64 px small_cnn: the cost is
  reading and decoding, not the weights)

and prints wall time, pack size, manifest size and the number of lines each printed. Both
include the interpreter's start and imports (the same for both copies).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROWS = 202_599
SIZE, WORKERS = 64, 2
_CLI = "import sys; from celebalab.cli import main; sys.exit(main(sys.argv[1:]))"


def write_annotations(root: Path, ids: list[str]) -> None:
    """Official ``list_attr_celeba.txt`` and ``list_eval_partition.txt`` of ``ids`` (CRLF,
    count line, the header's trailing space), partitions by the official index ranges."""
    from celebalab.datasets.schema import ATTRIBUTE_NAMES

    root.mkdir(parents=True, exist_ok=True)
    crlf = "\r\n"
    index = np.array([int(i[:6]) for i in ids])
    parts = np.searchsorted([162_770, 182_637], index, side="right")
    (root / "list_eval_partition.txt").write_bytes(
        "".join(f"{i} {p}{crlf}" for i, p in zip(ids, parts, strict=True)).encode()
    )
    rng = np.random.default_rng(0)
    signs = np.where(rng.random((len(ids), len(ATTRIBUTE_NAMES))) < 0.3, " 1", "-1")
    rows = "".join(f"{i} {' '.join(row)}{crlf}" for i, row in zip(ids, signs, strict=True))
    header = f"{len(ids)}{crlf}{' '.join(ATTRIBUTE_NAMES)} {crlf}"
    (root / "list_attr_celeba.txt").write_bytes((header + rows).encode())


def write_images(folder: Path, ids: list[str]) -> None:
    """Face-sized 178×218 JPEGs: a few smooth colour fields, shifted, plus noise."""
    rng = np.random.default_rng(1)
    folder.mkdir(parents=True)
    bases = []
    for _ in range(8):
        coarse = (rng.random((13, 11, 3)) * 255).astype(np.uint8)
        bases.append(np.asarray(Image.fromarray(coarse).resize((178, 218)), float))
    for k, image_id in enumerate(ids):
        pixels = np.roll(bases[k % 8], tuple(rng.integers(-30, 30, 2)), axis=(0, 1))
        pixels += rng.normal(0, 3, pixels.shape)
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
        image.save(folder / image_id, quality=90)


def make_run(run_dir: Path) -> Path:
    """An untrained, seeded 40-attribute small_cnn run at 64 px."""
    import torch

    from celebalab.datasets.schema import ATTRIBUTE_NAMES
    from celebalab.models.architectures import IMAGENET_MEAN, IMAGENET_STD, build_model
    from celebalab.models.run import save_run

    torch.manual_seed(0)
    config = {
        "arch": "small_cnn", "task": "attributes", "attribute_names": list(ATTRIBUTE_NAMES),
        "image_size": SIZE, "crop": "center",
        "normalisation": {"mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD), "scale": 255},
        "thresholds": dict.fromkeys(ATTRIBUTE_NAMES, 0.5), "data": {"root": ""},
    }  # fmt: skip
    save_run(run_dir, build_model("small_cnn", len(ATTRIBUTE_NAMES)).eval(), config)
    return run_dir


def run_cli(args: list[str], cache: Path) -> tuple[float, list[str]]:
    """Run ``celebalab ARGS`` in a fresh process; its wall time and the lines it printed (a
    progress bar's redraws count as one line)."""
    env = {**os.environ, "CELEBALAB_CACHE": str(cache)}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _CLI, *args], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, env=env)  # fmt: skip
    seconds = time.perf_counter() - start
    text = proc.stdout.decode("utf-8", "replace")  # bytes: text mode turns "\r" into "\n"
    if proc.returncode:
        raise SystemExit(f"celebalab {' '.join(args)} failed:\n{text[-3000:]}")
    return seconds, screen_lines(text)


def screen_lines(text: str) -> list[str]:
    """The lines a terminal would show: a carriage return redraws its line (progress bars)."""
    lines = []
    for line in text.split("\n"):
        drawn = [part for part in line.split("\r") if part.strip()]
        if drawn:
            lines.append(drawn[-1])
    return lines


def measure(root: Path, run: Path, work: Path) -> dict[str, object]:
    """Pack and extract ``root`` with its own cache folder; times, sizes, lines."""
    from celebalab.datasets.packfiles import PackPaths

    cache = work / "cache"
    pack_s, pack_lines = run_cli(
        ["data", "pack", str(root), "--size", str(SIZE), "--workers", str(WORKERS)], cache
    )
    os.environ["CELEBALAB_CACHE"] = str(cache)  # PackPaths resolves the cache folder from it
    paths = PackPaths.of(root, SIZE, "center")
    emb = work / "emb"
    extract_s, extract_lines = run_cli(
        ["embed", "extract", str(run), str(root), "--out", str(emb), "--workers", str(WORKERS)],
        cache,
    )
    manifest = json.loads((emb / "manifest.json").read_text())
    return {
        "pack_s": pack_s,
        "pack_mib": paths.data.stat().st_size / 2**20,
        "pack_manifest_kib": paths.manifest.stat().st_size / 1024,
        "pack_lines": pack_lines,
        "extract_s": extract_s,
        "vectors": manifest["count"],
        "extract_manifest_kib": (emb / "manifest.json").stat().st_size / 1024,
        "extract_lines": extract_lines,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1,000 images present, not 6,032")
    args = parser.parse_args()
    present = 1_000 if args.quick else 6_032
    every = ROWS // present
    all_ids = [f"{i:06d}.jpg" for i in range(1, ROWS + 1)]
    ids = all_ids[::every][:present]
    with tempfile.TemporaryDirectory(prefix="bench_partial_") as tmp:
        base = Path(tmp)
        start = time.perf_counter()
        partial, full = base / "partial" / "CelebA", base / "full" / "CelebA"
        write_annotations(partial, all_ids)
        write_images(partial / "img_align_celeba", ids)
        write_annotations(full, ids)
        (full / "img_align_celeba").symlink_to(partial / "img_align_celeba")
        run = make_run(base / "run")
        print(f"wrote {ROWS:,} official rows, {len(ids):,} JPEGs 178x218 present, and a full copy "
              f"of those {len(ids):,} in {time.perf_counter() - start:.1f} s")  # fmt: skip
        results = {
            "partial": measure(partial, run, base / "partial"),
            "full": measure(full, run, base / "full"),
        }
    for name, r in results.items():
        print(
            f"{name:>7} copy: pack {r['pack_s']:6.1f} s, {r['pack_mib']:6.1f} MiB, manifest "
            f"{r['pack_manifest_kib']:.1f} KiB, {len(r['pack_lines'])} lines | extract "
            f"{r['extract_s']:6.1f} s, {r['vectors']:,} vectors, manifest "
            f"{r['extract_manifest_kib']:.1f} KiB, {len(r['extract_lines'])} lines"
        )
    p, f = results["partial"], results["full"]
    print(
        f"partial / full: pack {p['pack_s'] / f['pack_s']:.2f}x time, "
        f"{p['pack_mib'] / f['pack_mib']:.2f}x size; extract "
        f"{p['extract_s'] / f['extract_s']:.2f}x time (both include the interpreter start)"
    )
    print("lines printed by the partial copy's commands:")
    for line in [*p["pack_lines"], *p["extract_lines"]]:
        print(f"  | {line[:150]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
