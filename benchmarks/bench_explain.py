"""Benchmark ``celebalab explain``: regional metrics vs Quantus, attribution throughput, mask pack.

1. Regional metrics of 500 images × 6 methods (64 px maps, region masks from synthetic label
   maps). For each of the 6 metrics Quantus has (regional precision, energy pointing game,
   pointing game, relevance rank accuracy, top-k intersection, AUC): Quantus's metric called
   image by image (the per-sample loop, the baseline of the ratio) against
   ``regional_metrics(..., metrics=(name,))`` on the same arrays, the values compared (max
   |difference|); then the totals (the 6, and the 5 without AUC, in one call of ours). For
   reference: one Quantus call on a subset (scaled) and Quantus's ``evaluate_batch`` kernel on
   the whole batch without its input checks, which is most of Quantus's time. Metrics Quantus
   lacks (regional recall, spatial coherence, area) are timed alone and not counted against it.
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
    pack_label_maps(hq, SIZE, "center")
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


def run_quantus(
    metric, maps: np.ndarray, masks: np.ndarray, clip: bool, batch_size: int = 64
) -> np.ndarray:
    """One Quantus ``__call__`` (its input checks, then its own loop over batches)."""
    a = np.clip(maps, 0, None) if clip else maps
    x = np.zeros((len(a), 1, SIZE, SIZE), np.float32)
    out = metric(
        model=None,
        x_batch=x,
        y_batch=np.zeros(len(a), int),
        a_batch=a[:, None],
        s_batch=masks[:, None].astype(np.uint8),
        batch_size=batch_size,
    )
    return np.asarray(out, dtype=np.float64)


def quantus_kernel(name: str, metric, maps: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Quantus's ``evaluate_batch`` on the whole batch: its numpy work without ``__call__``'s
    input checks (clip/abs applied here as its preprocessing would)."""
    a = np.clip(maps, 0, None) if name == "regional_precision" else maps
    a = np.abs(a) if name == "energy_pointing_game" else a
    out = metric.evaluate_batch(a_batch=a[:, None], s_batch=masks[:, None].astype(np.uint8))
    return np.asarray(out, dtype=np.float64)


def timed(fn, repeat: int = 1):
    """(best seconds of ``repeat`` runs, the last result)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def bench_metrics(labels: np.ndarray, images: int, methods: int) -> None:
    import warnings

    from celebalab.explain.metrics import METRIC_NAMES, regional_metrics, top_count
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
    total = len(maps)
    metrics = quantus_metrics(top_count(SIZE, SIZE, 0.1))
    part = slice(0, min(total, 300))  # Quantus's batched call: a subset, scaled to all maps
    scale = total / (part.stop - part.start)

    def ours(names=None):
        return regional_metrics(maps, masks, top_fraction=0.1, metrics=names)

    regional_metrics(maps[:8], masks[:8])  # warm-up (imports, allocator)
    t_all, every = timed(ours, 2)
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, metric in metrics.items():
            clip = name == "regional_precision"
            t_ours, alone = timed(lambda name=name: ours((name,)), 2)
            t_loop, loop = timed(
                lambda metric=metric, clip=clip: np.concatenate(
                    [
                        run_quantus(metric, maps[i : i + 1], masks[i : i + 1], clip)
                        for i in range(total)
                    ]
                )
            )
            t_call, call = timed(
                lambda metric=metric, clip=clip: run_quantus(metric, maps[part], masks[part], clip)
            )
            t_kernel, kernel = timed(
                lambda name=name, metric=metric: quantus_kernel(name, metric, maps, masks)
            )
            diff = max(
                float(np.nanmax(np.abs(alone[name] - loop))),
                float(np.nanmax(np.abs(every[name] - loop))),
                float(np.nanmax(np.abs(every[name][part] - call))),
                float(np.nanmax(np.abs(every[name] - kernel))),
            )
            same_nan = bool((np.isnan(every[name]) == np.isnan(loop)).all())
            rows.append((name, t_loop, t_ours, t_call * scale, t_kernel, diff, same_nan))
    quantus_names = tuple(metrics)
    t_q6, _ = timed(lambda: ours(quantus_names), 2)
    issue = tuple(k for k in quantus_names if k != "auc")
    t_q5, _ = timed(lambda: ours(issue), 2)
    others = [
        (label, names, timed(lambda names=names: ours(names), 2)[0])
        for label, names in (
            ("regional_recall", ("regional_recall",)),
            ("spatial coherence", ("components", "largest_component_share")),
            ("area", ("area",)),
        )
    ]
    print(
        f"\nregional metrics: {total} maps ({images} images × {methods} methods, masks from "
        f"label maps), {SIZE}×{SIZE}, top q = 10 %; best of 2 runs for celebalab, 1 for Quantus"
    )
    print(
        "  Quantus per-sample loop = quantus.Metric(...)(one image) called image by image; "
        "the ratio is against it."
    )
    print(
        f"  for reference: Quantus one __call__ (its own batches, scaled from {part.stop} maps) "
        "and its evaluate_batch kernel alone (whole batch, no input checks)"
    )
    print(
        f"  {'metric':<24} {'Quantus loop':>12} {'celebalab':>10} {'ratio':>7}"
        f" {'Q one call':>10} {'Q kernel':>9} {'ratio':>6}  max|diff|"
    )
    for name, t_loop, t_ours, t_call, t_kernel, diff, same_nan in rows:
        print(
            f"  {name:<24} {t_loop:10.2f} s {t_ours:8.3f} s {t_loop / t_ours:6.0f}x"
            f" {t_call:8.2f} s {t_kernel:7.3f} s {t_kernel / t_ours:5.1f}x  {diff:.1e}"
            + ("" if same_nan else "  NaN pattern differs!")
        )
    loop6 = sum(r[1] for r in rows)
    kernel6 = sum(r[4] for r in rows)
    loop5 = sum(r[1] for r in rows if r[0] != "auc")
    kernel5 = sum(r[4] for r in rows if r[0] != "auc")
    print(
        f"  {'total, all 6 (one call)':<24} {loop6:10.2f} s {t_q6:8.3f} s {loop6 / t_q6:6.0f}x"
        f" {'':>10} {kernel6:7.3f} s {kernel6 / t_q6:5.1f}x"
    )
    print(
        f"  {'total, 5 without AUC':<24} {loop5:10.2f} s {t_q5:8.3f} s {loop5 / t_q5:6.0f}x"
        f" {'':>10} {kernel5:7.3f} s {kernel5 / t_q5:5.1f}x"
    )
    print("  no Quantus counterpart (timed alone, not counted in the ratios above):")
    for label, _, seconds in others:
        print(f"  {label:<24} {'–':>12} {seconds:8.3f} s")
    print(
        f"  all {len(METRIC_NAMES)} metrics in one call: {t_all:.3f} s "
        f"({total / t_all:.0f} maps/s, {t_all / total * 1e3:.2f} ms per map)"
    )


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
