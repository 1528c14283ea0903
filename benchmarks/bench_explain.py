"""Benchmark ``celebalab explain``: regional metrics vs Quantus, attribution throughput, mask pack.

1. Regional metrics of 500 images × 6 methods (64 px maps, region masks from synthetic label
   maps): ``celebalab.explain.metrics.regional_metrics`` (one vectorised call) against Quantus's
   metrics called image by image (the per-sample loop a user writes), on the same arrays; the
   values must be identical (max |difference| printed). Quantus on the whole batch is shown too.
2. Attribution throughput per method (img/s) on a small CNN at 64 px: a batch of 16 images per
   call against one image per call (the first 4 images), in the same run.
3. Mask pack vs per-image PNG reads: label maps of a synthetic CelebAMask-HQ at 64 px, read from
   the per-class mask PNGs (combine + resize, what every run would do without the pack) against
   slicing the uint8 memmap the pack wrote. Peak RSS of the whole run is printed last.

    python benchmarks/bench_explain.py            # 500 × 6 maps, 120 HQ images
    python benchmarks/bench_explain.py --quick    # 100 × 6 maps, 40 HQ images, fewer methods
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

SIZE = 64
QUANTUS_METRICS = (
    "regional_precision",
    "energy_pointing_game",
    "pointing_game",
    "relevance_rank_accuracy",
    "top_k_intersection",
    "auc",
)


def label_maps(folder: Path, n_hq: int) -> tuple[Path, np.ndarray]:
    """A synthetic dataset's HQ root and its label maps at SIZE (read once, for the masks)."""
    from celebalab.datasets.mask_pack import PackedLabelMaps, pack_label_maps
    from celebalab.datasets.synth import generate

    generate(folder, n_hq, seed=0, n_hq=n_hq, workers=2)
    hq = folder / "CelebAMask-HQ"
    start = time.perf_counter()
    pack_label_maps(hq, SIZE, "center", progress=False)
    print(f"mask pack built for {n_hq} HQ images in {time.perf_counter() - start:.2f} s")
    return hq, np.asarray(PackedLabelMaps.open(hq, SIZE, "center").labels)


def smooth_maps(n: int, seed: int) -> np.ndarray:
    """``n`` smooth signed maps (like attributions), float32 n×SIZE×SIZE."""
    import torch
    from torch.nn import functional as F

    rng = np.random.default_rng(seed)
    coarse = torch.as_tensor(rng.normal(size=(n, 1, 8, 8)), dtype=torch.float32)
    maps = F.interpolate(coarse, size=(SIZE, SIZE), mode="bicubic", align_corners=False)[:, 0]
    return (maps.numpy() + 0.05 * rng.normal(size=(n, SIZE, SIZE))).astype(np.float32)


def quantus_metrics(top_k: int) -> dict:
    import quantus

    return {
        "regional_precision": quantus.RelevanceMassAccuracy(normalise=False),
        "energy_pointing_game": quantus.RelevanceMassAccuracy(normalise=False, abs=True),
        "pointing_game": quantus.PointingGame(normalise=False),
        "relevance_rank_accuracy": quantus.RelevanceRankAccuracy(normalise=False),
        "top_k_intersection": quantus.TopKIntersection(k=top_k, normalise=False),
        "auc": quantus.AUC(normalise=False),
    }


def run_quantus(metric, maps: np.ndarray, masks: np.ndarray, clip: bool) -> np.ndarray:
    a = np.clip(maps, 0, None) if clip else maps
    x = np.zeros((len(a), 1, SIZE, SIZE), np.float32)
    out = metric(
        model=None,
        x_batch=x,
        y_batch=np.zeros(len(a), int),
        a_batch=a[:, None],
        s_batch=masks[:, None].astype(np.uint8),
    )
    return np.asarray(out, dtype=np.float64)


def bench_metrics(labels: np.ndarray, images: int, methods: int) -> None:
    import warnings

    from celebalab.explain.metrics import regional_metrics, top_count
    from celebalab.explain.regions import class_masks

    n = images * methods
    maps = smooth_maps(n, 0)
    regions = [
        ("eye_g", "l_eye", "r_eye", "l_brow", "r_brow"),
        ("nose",),
        ("mouth", "u_lip", "l_lip"),
    ]
    masks = np.stack(
        [class_masks(labels[i % len(labels)][None], regions[i % 3])[0] for i in range(n)]
    )
    keep = masks.any((1, 2))
    maps, masks = maps[keep], masks[keep]
    start = time.perf_counter()
    ours = regional_metrics(maps, masks, top_fraction=0.1)
    t_ours = time.perf_counter() - start
    metrics = quantus_metrics(top_count(SIZE, SIZE, 0.1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        loop = {
            name: np.concatenate(
                [
                    run_quantus(m, maps[i : i + 1], masks[i : i + 1], name == "regional_precision")
                    for i in range(len(maps))
                ]
            )
            for name, m in metrics.items()
        }
        t_loop = time.perf_counter() - start
        part = slice(0, min(len(maps), 600))  # Quantus on one batch: a subset is enough
        start = time.perf_counter()
        batch = {
            name: run_quantus(m, maps[part], masks[part], name == "regional_precision")
            for name, m in metrics.items()
        }
        t_batch = (time.perf_counter() - start) * len(maps) / (part.stop - part.start)
    diff = max(float(np.nanmax(np.abs(ours[k] - loop[k]))) for k in QUANTUS_METRICS)
    diff_b = max(float(np.nanmax(np.abs(ours[k][part] - batch[k]))) for k in QUANTUS_METRICS)
    rate = len(maps)
    print(
        f"\nregional metrics: {rate} maps ({images} images × {methods} methods), {SIZE}×{SIZE}; "
        f"Quantus has {len(QUANTUS_METRICS)} of them (+ recall, coherence, area here)"
    )
    for label, seconds, note in (
        ("celebalab vectorised (all 10 metrics)", t_ours, ""),
        ("Quantus per-sample loop (6 metrics)", t_loop, f"max |diff| {diff:.1e}"),
        ("Quantus one batch (6, scaled to all)", t_batch, f"max |diff| {diff_b:.1e}"),
    ):
        ratio = f"celebalab {seconds / t_ours:.1f}x faster; {note}" if note else ""
        print(f"  {label:<38}: {seconds:7.2f} s {rate / seconds:8.0f} maps/s  {ratio}")


def bench_methods(methods: list[str], batch: int, single: int) -> None:
    import torch

    from celebalab.explain.decisions import AttributeDecision
    from celebalab.explain.methods import AttributionSettings, attribute
    from celebalab.models.architectures import SmallCNN

    torch.manual_seed(0)
    torch.set_flush_denormal(True)
    net = SmallCNN(40).eval()
    decision = AttributeDecision(net, 0)
    rng = np.random.default_rng(0)
    coarse = rng.integers(0, 256, (batch, 3, 8, 8)).astype(np.float32)
    images = torch.nn.functional.interpolate(
        torch.as_tensor(coarse), size=(SIZE, SIZE), mode="bilinear"
    )
    images = images.clamp(0, 255).to(torch.uint8).numpy()
    x = torch.as_tensor(images).float() / 127.5 - 1
    settings = AttributionSettings(shap_samples=64, lime_samples=64, ig_steps=32)
    print(f"\nattribution throughput (small_cnn, {SIZE} px, untrained; img/s)")
    print(f"  {'method':>10} {'batched':>9} {'one-by-one':>11} {'ratio':>6}")
    for method in methods:
        attribute(method, decision, x[:2], images=images[:2], settings=settings)  # warm-up
        start = time.perf_counter()
        attribute(method, decision, x, images=images, settings=settings)
        batched = batch / (time.perf_counter() - start)
        start = time.perf_counter()
        for i in range(single):
            attribute(method, decision, x[i : i + 1], images=images[i : i + 1], settings=settings)
        one = single / (time.perf_counter() - start)
        print(f"  {method:>10} {batched:9.1f} {one:11.1f} {batched / one:6.1f}x")


def bench_mask_reads(hq: Path, n_hq: int) -> None:
    from celebalab.datasets.mask_pack import PackedLabelMaps
    from celebalab.datasets.masks import MaskIndex, load_label_map, resize_label_map

    index = MaskIndex(hq)
    start = time.perf_counter()
    for j in range(n_hq):
        resize_label_map(load_label_map(hq, j, mask_index=index), SIZE, "center")
    t_png = time.perf_counter() - start
    start = time.perf_counter()
    pack = PackedLabelMaps.open(hq, SIZE, "center")
    np.asarray(pack.labels[np.arange(n_hq)]).sum()
    t_pack = time.perf_counter() - start
    print(f"\nlabel maps at {SIZE} px for {n_hq} HQ images")
    print(f"  per-image mask PNGs (combine + resize): {n_hq / t_png:10.0f} maps/s")
    print(
        f"  label-map pack (open + memmap slice)  : {n_hq / t_pack:10.0f} maps/s"
        f"  -> {t_png / t_pack:.0f}x faster"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer methods")
    args = parser.parse_args()
    from celebalab.explain.methods import METHOD_NAMES

    images, n_hq = (100, 40) if args.quick else (500, 120)
    methods = (
        ["gradcam", "ig", "saliency", "occlusion", "lime", "random"]
        if args.quick
        else list(METHOD_NAMES)
    )
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        hq, labels = label_maps(Path(tmp) / "synth", n_hq)
        bench_metrics(labels, images, 6)
        bench_methods(methods, batch=16, single=4)
        bench_mask_reads(hq, n_hq)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS {peak:.0f} MiB; total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
