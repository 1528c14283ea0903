"""Benchmark the batched-inference API on a loaded run (``celebalab.models.inference``).

On synthetic CelebA faces (``celebalab.datasets.synth``) and an untrained small_cnn at 64 px
(speed does not depend on the weights), it times, over every image of the dataset:

1. ``iter_split_batches`` alone, from the packed cache and from decoded files (threads);
2. the same plus ``predict_logits`` (what evaluate and the post-training step run) and plus
   ``extract_features`` (what embeddings run), from the packed cache;
3. the baseline a user would write, measured in the same run: ``CelebADataset`` item by item
   (file decode) and one forward pass per image, on a subset.

It prints images/s, latency per batch, the peak resident memory of the process, and the ratios
of (2) against the baseline and of the packed against the decoded loader.

    python benchmarks/bench_inference.py            # 2,000 faces
    python benchmarks/bench_inference.py --quick    # 400 faces
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import torch

from bench_predict import make_run  # the same untrained run as the predict benchmark

SIZE = 64
BATCH = 256
REPEATS = 2  # best of: the machine may be shared, the minimum is the least disturbed run


def timed(work, repeats: int = REPEATS) -> tuple[float, int]:
    """Best wall time of ``work()`` over ``repeats`` runs, and the batch count it returned."""
    best, batches = float("inf"), 0
    for _ in range(repeats):
        start = time.perf_counter()
        batches = work()
        best = min(best, time.perf_counter() - start)
    return best, batches


def sweep(batches, per_batch=None) -> int:
    """Iterate ``batches`` (calling ``per_batch(images)`` on each); return the batch count."""
    count = 0
    for batch in batches:
        if per_batch is not None:
            per_batch(batch.images)
        count += 1
    return count


def baseline_per_image(root: Path, run, n: int) -> float:
    """Seconds for ``n`` images through CelebADataset (file decode) and one forward each."""
    from celebalab.datasets.torch_datasets import CelebADataset
    from celebalab.models.inference import predict_logits

    data = CelebADataset(root, split="all", size=SIZE, use_pack=False)
    start = time.perf_counter()
    for i in range(n):
        predict_logits(run, data[i]["image"][None])
    return time.perf_counter() - start


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="400 faces instead of 2,000")
    parser.add_argument("--images", type=int, default=None, help="number of synthetic faces")
    args = parser.parse_args()
    n = args.images or (400 if args.quick else 2000)

    from celebalab.datasets.packed import PackPaths, pack_images
    from celebalab.datasets.synth import generate
    from celebalab.models import load_run
    from celebalab.models.inference import extract_features, iter_split_batches, predict_logits

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        root = generate(tmp_path / "data", n, seed=0, n_hq=0).celeba_root
        make_run(tmp_path / "run", "small_cnn", SIZE)
        run = load_run(tmp_path / "run", "cpu")
        print(f"bench_inference: {n} synthetic faces (178x218 JPEG), small_cnn at {SIZE} px, "
              f"batch {BATCH}, {torch.get_num_threads()} torch thread(s)")  # fmt: skip
        predict_logits(run, torch.zeros((8, 3, SIZE, SIZE), dtype=torch.uint8))  # warm-up

        decoded, nb = timed(lambda: sweep(iter_split_batches(run, root, "all", batch_size=BATCH)))
        rss_decoded = peak_rss_mb()
        pack_images(root, SIZE)
        assert PackPaths.of(root, SIZE, "center").manifest.is_file()

        def packed(per_batch=None) -> int:
            return sweep(iter_split_batches(run, root, "all", batch_size=BATCH), per_batch)

        loader, _ = timed(packed)
        logits, _ = timed(lambda: packed(lambda images: predict_logits(run, images)))
        features, _ = timed(lambda: packed(lambda images: extract_features(run, images)))
        subset = min(n, 200)
        base = baseline_per_image(root, run, subset)

        rows = [
            ("decoded loader (threads)", decoded),
            ("packed loader", loader),
            ("packed + predict_logits", logits),
            ("packed + extract_features", features),
        ]
        print(f"{'stage':<28}{'images/s':>10}{'ms/batch':>10}")
        for label, seconds in rows:
            print(f"{label:<28}{n / seconds:>10.0f}{1000 * seconds / nb:>10.1f}")
        print(f"{'baseline: per-image loop':<28}{subset / base:>10.0f}{1000 * base / subset:>10.2f}"
              " (ms/image)")  # fmt: skip
        speedup = (n / logits) / (subset / base)
        print(f"ratio packed+predict_logits / per-image baseline: {speedup:.1f}x")
        print(f"ratio packed / decoded loader: {decoded / loader:.1f}x")
        print(f"peak RSS: {rss_decoded:.0f} MiB after the decoded pass, {peak_rss_mb():.0f} MiB "
              "at the end")  # fmt: skip


if __name__ == "__main__":
    main()
