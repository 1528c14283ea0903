"""Run every benchmark script in this folder and write their output to benchmarks/RESULTS.md.

Each ``bench_*.py`` prints its own figures; this runner records them verbatim with the machine
they were measured on, so RESULTS.md is always a transcript, never hand-edited numbers.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from celebalab.io import write_text_atomic

HERE = Path(__file__).resolve().parent
KEPT_NOTE = "; sections not re-run keep their earlier figures, date and machine"
#: Start of the hand-recorded part of RESULTS.md (figures of example runs), kept as it is.
HAND_RECORDED = "\n# Figures from example runs"


def _split_hand_recorded(results: Path) -> tuple[str, str]:
    """The transcript part of an existing RESULTS.md, and its hand-recorded tail ('' if none)."""
    text = results.read_text() if results.exists() else ""
    cut = text.find(HAND_RECORDED)
    return (text, "") if cut < 0 else (text[:cut], text[cut:])


def machine_description() -> str:
    """One paragraph naming the CPU, core count, memory and library versions."""
    import psutil
    import torch

    cpu, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    vector = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in flags]
    cpu += f" ({', '.join(vector) or 'no AVX2'})"
    mem = psutil.virtual_memory().total / 2**30
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return (
        f"{cpu}; {os.cpu_count()} logical cores; {mem:.0f} GiB RAM; GPU: {gpu}; "
        f"Python {platform.python_version()}; torch {torch.__version__}; {platform.platform()}"
    )


def _merge_into_existing(results: Path, fresh: list[str]) -> list[str]:
    """Replace the re-run sections of an existing RESULTS.md and keep the others as they were
    (each with its own ``machine:`` line)."""
    old = _split_hand_recorded(results)[0].split("\n## ")[1:]
    merged = {s.split("\n", 1)[0]: "## " + s.rstrip() + "\n" for s in old}
    merged.update({s.split("\n", 1)[0].removeprefix("## "): s for s in fresh})
    return [merged[name] for name in sorted(merged)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="pass --quick to every benchmark")
    parser.add_argument("--only", nargs="*", help="benchmark names to run (e.g. parse pack)")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args()

    scripts = sorted(HERE.glob("bench_*.py"))
    if args.only:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in args.only]
    sections = []
    failed = 0
    machine = machine_description()
    for script in scripts:
        cmd = [sys.executable, str(script), *(["--quick"] if args.quick else [])]
        print(f"== {script.name}", flush=True)
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        output = (proc.stdout + (proc.stderr if proc.returncode else "")).rstrip()
        print(output, flush=True)
        failed += proc.returncode != 0
        status = "ok" if proc.returncode == 0 else f"FAILED (exit {proc.returncode})"
        today = f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d}"
        sections.append(
            f"## {script.stem}\n\n`{' '.join(['python', 'benchmarks/' + script.name, *cmd[2:]])}`"
            f" — {status}, {seconds:.0f} s wall, measured {today}"
            f"\nmachine: {machine}\n\n```\n{output}\n```\n"
        )
    if args.only:
        sections = _merge_into_existing(args.out, sections)
    header = (
        "# Benchmark results\n\n"
        f"Measured {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC by "
        f"`python benchmarks/run_all.py{' --quick' if args.quick else ''}` on: "
        f"{machine}.\n\nEach section is the benchmark's own output, verbatim, under the machine "
        "it ran on"
        f"{KEPT_NOTE if args.only else ''}.\n\n"
    )
    tail = _split_hand_recorded(args.out)[1]
    write_text_atomic(args.out, header + "\n".join(sections) + tail)
    print(f"wrote {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
