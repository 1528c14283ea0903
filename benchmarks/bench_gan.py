"""Benchmark GAN training at 32 px against the seed's loop, and sampling throughput.

The baseline is seed 004's DCGAN loop re-implemented faithfully here (its networks with the
final Sigmoid, ``BCELoss``, ``ImageFolder`` + PIL decoding every JPEG per item, ``Resize((32,
32))``, batch 32, Adam 2e-4; its CUDA-only ``autocast``/``GradScaler`` are no-ops on the CPU and
are left out). celebalab's loop (:func:`celebalab.generate.train.train_gan`: packed uint8 cache,
batch 128, channels-last, logits loss, EMA, checkpoints, per-epoch grid) trains the same
networks on the same synthetic CelebA images for the same number of training images, with
``--precision auto`` (bf16 autocast where the CPU has native bf16) unless told otherwise. Each
side runs in its own subprocess so the peak RSS is its own. Throughput is training images per
second: the seed's over its loop (after imports, data set and networks are set up); celebalab's
three ways: the whole ``train_gan`` call (imports on first use, data opening, checkpoints,
grids, report; not the one-off packing, timed separately), its training loop, and the loop
after the first epoch (steady state: oneDNN builds its kernels in the first steps).

    python benchmarks/bench_gan.py            # 3,000 images, 5 epochs, about 1 minute on 2 cores
    python benchmarks/bench_gan.py --quick    # 400 images, 2 epochs
    python benchmarks/bench_gan.py --threads 2 1   # one comparison per thread count
    python benchmarks/bench_gan.py --precision auto 32   # bf16 (where native) and fp32
    python benchmarks/bench_gan.py --quality --minutes 5 15 --cores 2   # equal time, ~90 min
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import gan_quality
from notebook_dcgan import SEED_BATCH, notebook_train

OUR_BATCH = 128
#: The speed comparison trains the notebook's networks on the same work per image: no
#: augmentation, BatchNorm in D (not the spectrally normalised one), the logistic loss.
SAME_WORK = {"augment": (), "spectral_norm": False, "loss": "bce"}


def our_loop(root: Path, run_dir: Path, epochs: int, threads: int, precision: str) -> dict:
    """celebalab's training (pack first, timed apart) for ``epochs`` epochs."""
    import resource

    from celebalab.datasets.packed import pack_images
    from celebalab.generate import run as runfmt
    from celebalab.generate.config import GanConfig
    from celebalab.generate.train import train_gan

    start = time.perf_counter()
    pack_images(root, 32, progress=False)
    pack_seconds = time.perf_counter() - start
    config = GanConfig(
        size=32, epochs=epochs, batch_size=OUR_BATCH, threads=threads, progress=False,
        precision=precision, **SAME_WORK,
    )  # fmt: skip
    start = time.perf_counter()
    info = train_gan(root, run_dir, config)
    wall = time.perf_counter() - start
    images = info.training.steps * OUR_BATCH
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with open(run_dir / runfmt.EPOCHS_CSV, newline="") as f:
        epochs_run = [{k: float(row[k]) for k in ("step", "seconds")} for row in csv.DictReader(f)]
    first, last = epochs_run[0], epochs_run[-1]
    steady = (last["step"] - first["step"]) * OUR_BATCH / (last["seconds"] - first["seconds"])
    return {"images_per_second": images / wall, "seconds": wall, "images": images,
            "pack_seconds": pack_seconds, "peak_rss_mib": peak,
            "loop_images_per_second": info.training.images_per_second,
            "steady_images_per_second": steady,
            "precision": info.training.precision_used}  # fmt: skip


def sampling(run_dir: Path, count: int, threads: int) -> dict:
    """Images/s of ``sample_images`` (EMA generator, CPU) for ``count`` faces, best of two."""
    import torch

    from celebalab.generate.run import load_gan_run
    from celebalab.generate.sample import sample_images

    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)  # as training does (DCGAN init: denormal activations)
    run = load_gan_run(run_dir)
    sample_images(run, 64, seed=0)  # warm-up
    best = float("inf")
    for _ in range(2):
        start = time.perf_counter()
        sample_images(run, count, seed=1)
        best = min(best, time.perf_counter() - start)
    return {"images_per_second": count / best, "count": count}


def _child(kind: str, args: list[str], threads: int) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--threads", str(threads), "--child", kind, *args],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="400 images instead of 3,000")
    parser.add_argument(
        "--threads",
        type=int,
        nargs="+",
        default=[len(os.sched_getaffinity(0))],
        help="CPU threads for both loops; several values: one comparison "
        "each, in the same run (default: all cores, both loops' default)",
    )
    parser.add_argument(
        "--precision",
        nargs="+",
        default=["auto"],
        help="celebalab's --precision; several values: one comparison each (e.g. auto 32)",
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    gan_quality.add_arguments(parser)
    args = parser.parse_args()
    if args.quality:
        gan_quality.main(args)
        return
    if args.child:
        kind, *rest = args.child
        threads = args.threads[0]
        if kind == "seed":
            result = notebook_train(Path(rest[0]), threads, images=int(rest[1]), part=rest[2])[0]
        elif kind == "ours":
            result = our_loop(Path(rest[0]), Path(rest[1]), int(rest[2]), threads, rest[3])
        else:
            result = sampling(Path(rest[0]), int(rest[1]), threads)
        print(json.dumps(result))
        return

    from celebalab.datasets.synth import generate

    n = 400 if args.quick else 3000
    epochs = 2 if args.quick else 5
    print(f"cores: {len(os.sched_getaffinity(0))}, load average at start: "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        start = time.perf_counter()
        synth = generate(tmp_path / "synth", n, seed=0, n_hq=0)
        print(f"data: {n} synthetic CelebA faces (178×218 JPEG) in "
              f"{time.perf_counter() - start:.1f} s")  # fmt: skip
        root = synth.celeba_root
        # ImageFolder needs class sub-folders: the Kaggle layout's doubled folder is one.
        folder = tmp_path / "imagefolder"
        folder.mkdir()
        (folder / "img_align_celeba").symlink_to(root / "img_align_celeba")
        for threads in args.threads:
            for precision in args.precision:
                run = tmp_path / f"run{threads}_{precision}"
                ours = _child("ours", [str(root), str(run), str(epochs), precision], threads)
                seed = {
                    part: _child("seed", [str(folder), str(ours["images"]), part], threads)
                    for part in ("whole", "data", "steps")
                }
                sample = _child("sample", [str(run), "2048"], threads)
                _report(threads, seed, ours, sample)


def _report(threads: int, parts: dict, ours: dict, sample: dict) -> None:
    seed = parts["whole"]
    ratio, loop_ratio, steady_ratio = (
        ours[key] / seed["images_per_second"]
        for key in ("images_per_second", "loop_images_per_second", "steady_images_per_second")
    )
    print(f"--- threads: {threads} for both (torch.set_num_threads), load average now: "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")  # fmt: skip
    print(
        f"seed loop (ImageFolder + PIL, batch {SEED_BATCH}, fp32): "
        f"{seed['images_per_second']:.0f} img/s, peak RSS {seed['peak_rss_mib']:.0f} MiB"
    )
    print(
        f"celebalab gan train (packed, batch {OUR_BATCH}, channels-last, precision "
        f"{ours['precision']}, EMA, checkpoints): {ours['images_per_second']:.0f} img/s over "
        f"{ours['images']} images whole call (loop {ours['loop_images_per_second']:.0f} img/s, "
        f"after the first epoch {ours['steady_images_per_second']:.0f} img/s), "
        f"peak RSS {ours['peak_rss_mib']:.0f} MiB"
    )
    print(
        f"  one-off pack at 32 px: {ours['pack_seconds']:.1f} s; the whole call also counts "
        "imports on first use (the first torch optimiser imports torch._dynamo), opening the "
        "data, grids, checkpoints, the report"
    )
    print(f"speed-up vs the seed loop: {ratio:.2f}x whole call, {loop_ratio:.2f}x training loop, "
          f"{steady_ratio:.2f}x after the first epoch")  # fmt: skip
    per_image = {part: 1e3 / parts[part]["images_per_second"] for part in parts}
    print(
        f"the seed loop's parts, ms per image: whole {per_image['whole']:.2f}, its loader alone "
        f"{per_image['data']:.2f}, its training steps alone (one decoded batch reused) "
        f"{per_image['steps']:.2f}; a loop that keeps only the training steps (no loading, "
        f"no other overhead) at the seed's cost per image reaches at most "
        f"{per_image['whole'] / per_image['steps']:.2f}x; celebalab's steady loop takes "
        f"{1e3 / ours['steady_images_per_second']:.2f} ms per image "
        f"({per_image['steps'] * ours['steady_images_per_second'] / 1e3:.2f}x the seed's steps)"
    )
    print(f"sampling (EMA generator, CPU, batches of 256): "
          f"{sample['images_per_second']:.0f} img/s for {sample['count']} faces")  # fmt: skip


if __name__ == "__main__":
    main()
