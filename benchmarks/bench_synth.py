"""Synthetic face generator throughput: images/s (JPEG + label maps written) and peak RSS.

Runs aligned-only and HQ-with-masks generation at workers=1 and workers=2, in fresh temporary
folders, and prints images/s, the speed-up of 2 workers over 1 (baseline measured in this run)
and peak resident memory. Target: >= 300 aligned images/s on 2 cores.

    python benchmarks/bench_synth.py [--quick] [--n N]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from celebalab.datasets.synth import generate


def _peak_rss_mb() -> float:
    """Peak RSS of this process and of its finished children (Linux reports KiB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) / 1024


def _cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children (pool workers)."""
    own, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _run(n: int, n_hq: int, workers: int, hq_size: int) -> tuple[float, float]:
    """(images per wall second, images per CPU second) of one generation into a fresh folder."""
    with tempfile.TemporaryDirectory(prefix="bench_synth_") as tmp:
        t0, c0 = time.perf_counter(), _cpu_seconds()
        generate(Path(tmp) / "out", n, seed=0, n_hq=n_hq, hq_size=hq_size, workers=workers)
        return n / (time.perf_counter() - t0), n / (_cpu_seconds() - c0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small run (a few seconds)")
    parser.add_argument("--n", type=int, default=None, help="aligned images per run")
    args = parser.parse_args(argv)
    n = args.n or (300 if args.quick else 1200)
    _run(8, 2, 1, 256)  # warm-up: imports, cached tiles
    print(f"synthetic faces (JPEG, label-map and mask writing included), cpus={os.cpu_count()}")
    n_mask = max(8, n // 4)
    cases = (("aligned only", n, 0), (f"aligned + HQ 256 + masks (n={n_mask})", n_mask, n_mask))
    for label, count, n_hq in cases:
        (wall1, _cpu1), (wall2, cpu2) = (_run(count, n_hq, w, 256) for w in (1, 2))
        print(f"  {label}")
        print(
            f"    workers=1 {wall1:7.1f} img/s   workers=2 {wall2:7.1f} img/s   "
            f"speed-up x{wall2 / wall1:.2f} (baseline: workers=1)"
        )
        print(f"    CPU cost {1000 / cpu2:.2f} ms/img -> {2 * cpu2:.0f} img/s on 2 idle cores")
        if n_hq == 0:
            verdict = "meets" if wall2 >= 300 else "BELOW"
            print(
                f"    target >= 300 aligned img/s on 2 workers: {verdict} (measured {wall2:.0f}; "
                f"load average {os.getloadavg()[0]:.1f})"
            )
    print(f"  peak RSS (largest process): {_peak_rss_mb():.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
