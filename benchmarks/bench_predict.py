"""Benchmark ``celebalab predict`` on a folder of aligned-size JPEGs (178×218, like CelebA).

For each model (small_cnn at 64 px over the whole folder, mobilenet_v2 at 128 px over a quarter
of it; untrained weights, the speed is the same) and batch size, it times :func:`predict_paths`
(best of two passes) and prints images/s, the mean wall time per batch, the model-only forward
latency per batch, and the RSS after loading the model and at the peak (each model runs in its
own subprocess, so the peak is its own). The baseline, measured in the same run, is the loop a
user would write: full PIL decode, crop, resize and one forward pass per image.

    python benchmarks/bench_predict.py            # 1,000 images, batch sizes 32 and 128
    python benchmarks/bench_predict.py --quick    # 200 images, batch size 64
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

#: (architecture, image size, share of the folder it predicts): mobilenet_v2 is ~30× the work.
MODELS: tuple[tuple[str, int, float], ...] = (("small_cnn", 64, 1.0), ("mobilenet_v2", 128, 0.25))
BASELINE_IMAGES = 50
REPEATS = 2  # best of: the machine may be shared, the minimum is the least disturbed run


def make_images(folder: Path, n: int, seed: int = 0) -> None:
    """``n`` smooth random 178×218 JPEGs (photo-like: they compress and resize like faces)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        coarse = (rng.random((13, 11, 3)) * 255).astype(np.uint8)
        image = Image.fromarray(coarse).resize((178, 218), Image.Resampling.BICUBIC)
        noisy = np.clip(np.asarray(image) + rng.normal(0, 6, (218, 178, 3)), 0, 255)
        Image.fromarray(noisy.astype(np.uint8)).save(folder / f"{i + 1:06d}.jpg", quality=90)


def make_run(run_dir: Path, arch: str, size: int) -> None:
    """A run directory with an untrained ``arch`` (inference speed does not depend on weights)."""
    import torch

    from celebalab.datasets.schema import ATTRIBUTE_NAMES
    from celebalab.models.architectures import IMAGENET_MEAN, IMAGENET_STD, build_model
    from celebalab.models.run import save_run

    torch.manual_seed(0)
    config = {
        "arch": arch,
        "task": "attributes",
        "attribute_names": list(ATTRIBUTE_NAMES),
        "image_size": size,
        "crop": "center",
        "normalisation": {"mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD), "scale": 255},
        "thresholds": dict.fromkeys(ATTRIBUTE_NAMES, 0.5),
        "data": {"root": ""},
    }
    save_run(run_dir, build_model(arch, len(ATTRIBUTE_NAMES)).eval(), config)


def naive_loop(run_dir: Path, files: list[Path]) -> float:
    """Images/s of the plain per-image loop: full decode, crop, resize, one forward each."""
    import torch
    from PIL import Image

    from celebalab.models import load_run, predict_proba

    run = load_run(run_dir)
    size = run.image_size
    start = time.perf_counter()
    for path in files:
        with Image.open(path) as im:
            rgb = im.convert("RGB")
        side = min(rgb.size)
        left, top = (rgb.width - side) // 2, (rgb.height - side) // 2
        square = rgb.crop((left, top, left + side, top + side))
        array = np.asarray(square.resize((size, size), Image.Resampling.BICUBIC))
        with torch.inference_mode():
            predict_proba(run, array[None])
    return len(files) / (time.perf_counter() - start)


def forward_latency(run_dir: Path, batch: int, repeats: int = 3) -> float:
    """Median seconds of one forward pass on a ``batch`` of images already decoded."""
    from celebalab.models import load_run, predict_proba

    run = load_run(run_dir)
    images = np.random.default_rng(0).integers(0, 256, (batch, run.image_size, run.image_size, 3))
    images = images.astype(np.uint8)
    predict_proba(run, images)  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        predict_proba(run, images)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def worker(run_dir: Path, files: list[Path], batches: list[int]) -> dict:
    """Measure one model in this process (so the peak RSS is this model's)."""
    import psutil
    import torch

    from celebalab.models import load_run
    from celebalab.models.predict import predict_paths

    # Untrained weights give denormal activations that trained ones rarely do; flushing them
    # keeps the timings representative (for the baseline and predict alike).
    torch.set_flush_denormal(True)
    run = load_run(run_dir)
    loaded_mib = psutil.Process().memory_info().rss / 2**20
    predict_paths(run, files[:32], batch_size=32)  # warm-up: thread pool, allocator
    rows = []
    for batch in batches:
        seconds = float("inf")
        for _ in range(REPEATS):
            start = time.perf_counter()
            frame = predict_paths(run, files, batch_size=batch)
            seconds = min(seconds, time.perf_counter() - start)
        assert len(frame) == len(files)
        rows.append(
            {
                "batch": batch,
                "images_per_s": len(files) / seconds,
                "ms_per_batch": 1000 * seconds / -(-len(files) // batch),
                "forward_ms_per_batch": 1000 * forward_latency(run_dir, batch),
            }
        )
    baseline = naive_loop(run_dir, files[:BASELINE_IMAGES])
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"rows": rows, "baseline_images_per_s": baseline, "peak_rss_mib": peak_mib,
            "rss_after_load_mib": loaded_mib}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 images, batch size 64 only")
    parser.add_argument("--images", type=int, default=None, help="number of JPEGs")
    parser.add_argument(
        "--worker", nargs=3, metavar=("RUN_DIR", "FOLDER", "N"), help=argparse.SUPPRESS
    )
    parser.add_argument("--batches", type=int, nargs="+", default=None)
    args = parser.parse_args()
    batches = args.batches or ([64] if args.quick else [32, 128])
    if args.worker:
        files = sorted(Path(args.worker[1]).glob("*.jpg"))[: int(args.worker[2])]
        print(json.dumps(worker(Path(args.worker[0]), files, batches)))
        return

    n = args.images or (200 if args.quick else 1000)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "images"
        start = time.perf_counter()
        make_images(folder, n)
        print(f"{n} JPEGs 178×218 written in {time.perf_counter() - start:.1f} s")
        for arch, size, share in MODELS:
            run_dir = Path(tmp) / f"run_{arch}"
            make_run(run_dir, arch, size)
            count = max(BASELINE_IMAGES, round(n * share))
            cmd = [sys.executable, __file__, "--worker", str(run_dir), str(folder), str(count)]
            cmd.append("--batches")
            out = subprocess.run([*cmd, *map(str, batches)], capture_output=True, text=True)
            if out.returncode:
                sys.exit(f"{arch} failed:\n{out.stderr}")
            res = json.loads(out.stdout.strip().splitlines()[-1])
            base = res["baseline_images_per_s"]
            print(
                f"\n{arch} @ {size} px, {count} images, best of {REPEATS}  (RSS after loading the "
                f"model {res['rss_after_load_mib']:.0f} MiB, peak {res['peak_rss_mib']:.0f} MiB)"
            )
            print(f"  baseline per-image loop ({BASELINE_IMAGES} images): {base:8.1f} images/s")
            print("  batch   images/s   ms/batch   forward ms/batch   vs baseline")
            for row in res["rows"]:
                print(
                    f"  {row['batch']:5d}   {row['images_per_s']:8.1f}   "
                    f"{row['ms_per_batch']:8.1f}   {row['forward_ms_per_batch']:16.1f}"
                    f"   {row['images_per_s'] / base:10.2f}×"
                )


if __name__ == "__main__":
    main()
