"""Benchmark ``celebalab explore`` in a real browser (Debian's headless chromium, Playwright).

On a generated set of 202,599 faces (person-clustered synthetic vectors of dimension 128 and
random attributes; 100 real JPEGs hard-linked under all 202,599 names so every point has an
image) it measures:

- first start (cache empty: PCA, K-means, identity kNN accuracy, silhouette computed while the
  server already answers): process launch → the 200k-point map drawn in the browser;
- cold start with the cache: process launch → server ready, then from navigation the first
  contentful paint (page frame and menu), the pies drawn and the map drawn, and from process
  launch the pies and the map drawn (a fresh browser: nothing in its HTTP cache);
- re-clustering with the projection cached: new values of k (each a new K-means), then back to
  a cached k, timed from the key press to the new map title and those points drawn, and the
  bytes the browser received for it;
- click → image: a click on a map point until its full image has decoded (median and max);
- the payload of the 200k-point scatter (bytes of the Dash response, and gzip'd, as it is sent
  when the app serves a network; on 127.0.0.1 it is sent as is),
  against the same arrays sent as JSON number lists (the baseline, built in this run);
- peak RSS of the server process.

    python benchmarks/bench_explore.py            # 202,599 faces, about 2-3 minutes
    python benchmarks/bench_explore.py --quick    # 20,000 faces
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

CHROMIUM = "/usr/bin/chromium"
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
DISTINCT_IMAGES = 100
CLICKS = 7
NEW_KS = (5, 6, 7)
CACHED_K = 8


def make_set(folder: Path, n: int, dim: int) -> Path:
    """An embedding set of ``n`` faces (~20 per person) with an image file for every row."""
    from PIL import Image

    from celebalab.datasets.schema import ATTRIBUTE_NAMES
    from celebalab.explorer.synthetic import write_synthetic_set

    rng = np.random.default_rng(0)
    ids = [f"{i + 1:06d}.jpg" for i in range(n)]
    rates = rng.uniform(0.05, 0.6, len(ATTRIBUTE_NAMES))
    table = pd.DataFrame(
        {
            "image_id": ids,
            "identity": np.sort(rng.integers(1, n // 20 + 1, n)),
            "partition": np.zeros(n, np.int8),
        }
    )
    attrs = (rng.random((n, len(ATTRIBUTE_NAMES))) < rates).astype(np.uint8)
    table = pd.concat([table, pd.DataFrame(attrs, columns=list(ATTRIBUTE_NAMES))], axis=1)
    images = folder / "images"
    images.mkdir(parents=True)
    originals = []
    for k in range(DISTINCT_IMAGES):
        coarse = (rng.random((11, 9, 3)) * 255).astype(np.uint8)
        path = images / f"original_{k}.jpg"
        Image.fromarray(coarse).resize((178, 218), Image.Resampling.BICUBIC).save(path, quality=90)
        originals.append(path)
    for i, name in enumerate(ids):
        os.link(originals[i % DISTINCT_IMAGES], images / name)
    write_synthetic_set(folder / "emb", table, dim=dim, noise=0.6, seed=0, images=images)
    return folder / "emb"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(emb: Path, port: int) -> tuple[subprocess.Popen, float]:
    """Launch ``celebalab explore`` and wait until it answers; (process, seconds to ready)."""
    import urllib.request

    exe = Path(sys.executable).with_name("celebalab")
    start = time.perf_counter()
    proc = subprocess.Popen(
        [str(exe), "explore", str(emb), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"celebalab explore exited with status {proc.returncode}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).read()
            return proc, time.perf_counter() - start
        except OSError:
            time.sleep(0.02)


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def _is_map_update(response) -> bool:
    if "_dash-update-component" not in response.url:
        return False
    return "map-data.data" in json.loads(response.request.post_data or "{}").get("output", "")


#: Runs in the page from its first script: notes (performance.now(), i.e. ms since navigation
#: start) when the pies and when the whole map are first seen drawn, once per animation frame.
_PAINT_WATCH = """
window.__paints = {};
(function watch() {
    const p = window.__paints, n = window.__mapPoints;
    if (!p.pies && document.querySelector('#pies .pielayer path.surface'))
        p.pies = performance.now();
    const gd = document.querySelector('#map .js-plotly-plot');
    const drawn = gd && gd._fullData ? gd._fullData.filter(t => t.name === 'faces')
        .reduce((sum, t) => sum + (t.x ? t.x.length : 0), 0) : 0;
    if (!p.map && n && drawn === n && document.querySelector('#map .gl-container canvas'))
        p.map = performance.now();
    if (!(p.pies && p.map)) requestAnimationFrame(watch);
})();
"""


def first_paint(page, url: str, n: int) -> dict[str, float | int]:
    """Seconds from navigation to: the first contentful paint (the page's frame, menu and
    empty cards: the browser's own paint timing), the attribute pies drawn, the map holding all
    ``n`` points drawn (then two more animation frames); and the bytes of the map's response
    (sent as is, and gzip'd)."""
    page.add_init_script(f"window.__mapPoints = {n};" + _PAINT_WATCH)
    start = time.perf_counter()
    with page.expect_response(_is_map_update, timeout=120000) as answer:
        page.goto(url)
    page.wait_for_function("() => window.__paints.map && window.__paints.pies", timeout=120000)
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    seconds = time.perf_counter() - start
    marks = page.evaluate(
        "() => ({fcp: (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime,"
        " pies: window.__paints.pies, map: window.__paints.map})"
    )
    body = answer.value.body()
    return {
        "fcp": (marks["fcp"] or float("nan")) / 1e3,
        "pies": marks["pies"] / 1e3,
        "map": marks["map"] / 1e3,
        "map_settled": seconds,
        "bytes": len(body),
        "gzip": len(gzip.compress(body, 6)),
    }


def recluster(page, k: int) -> tuple[float, int]:
    """(seconds from the new k to the new map title with every point drawn again, bytes of the
    map's update)."""
    start = time.perf_counter()
    with page.expect_response(_is_map_update, timeout=120000) as answer:
        page.fill("#k", str(k))
        page.press("#k", "Enter")
    page.wait_for_function(
        f"document.querySelector('#map .gtitle').textContent.includes('kmeans ({k} clusters')",
        timeout=120000,
        polling="raf",
    )
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => r()))")  # one frame drawn
    return time.perf_counter() - start, len(answer.value.body())


def click_latencies(page, clicks: int) -> list[float]:
    page.locator("#map").scroll_into_view_if_needed()
    box = page.locator("#map .js-plotly-plot").bounding_box()
    spots = page.evaluate(  # points spread over the map's traces (one per colour)
        """(clicks) => {
        const gd = document.querySelector('#map .js-plotly-plot');
        const traces = gd._fullData.filter(t => t.name === 'faces');
        const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
        const out = [];
        for (let i = 0; i < clicks; i++) {
            const t = traces[i % traces.length];
            const j = Math.floor((i + 0.5) * t.x.length / clicks);
            out.push([xa._offset + xa.l2p(t.x[j]), ya._offset + ya.l2p(t.y[j])]);
        }
        return out;
    }""",
        clicks,
    )
    times = []
    previous = None
    for x, y in spots:
        page.locator("#map").scroll_into_view_if_needed()  # the image panel above may grow
        box = page.locator("#map .js-plotly-plot").bounding_box()
        page.mouse.move(box["x"] + x, box["y"] + y)
        page.wait_for_timeout(150)
        start = time.perf_counter()
        page.mouse.click(box["x"] + x, box["y"] + y)
        page.wait_for_function(
            "(prev) => { const img = document.querySelector('#clicked-image');"
            " return img && img.complete && img.naturalWidth > 0"
            " && document.querySelector('#clicked-caption').textContent !== prev; }",
            arg=previous,
            timeout=30000,
        )
        times.append(time.perf_counter() - start)
        previous = page.locator("#clicked-caption").text_content()
    return times


def baseline_payload(emb: Path) -> tuple[int, int]:
    """(bytes, gzip bytes) of the same map arrays as JSON number lists."""
    import plotly.io as pio

    from celebalab.explorer.sources import open_source
    from celebalab.explorer.views import DEFAULT_CLUSTERING, Explorer

    explorer = Explorer(sources=[open_source(emb)])
    data = dict(explorer.map_data(0, DEFAULT_CLUSTERING, [], None))
    for key in ("x", "y", "hover", "codes"):
        data[key] = _decoded(data[key]).tolist()
    body = pio.to_json(data, validate=False).encode()
    return len(body), len(gzip.compress(body, 6))


def _decoded(spec: dict) -> np.ndarray:
    import base64

    values = np.frombuffer(base64.b64decode(spec["bdata"]), dtype=np.dtype(spec["dtype"]))
    return values.reshape(-1, 2) if "shape" in spec else values


def run(n: int, dim: int) -> None:
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="bench_explore_"))
    try:
        t0 = time.perf_counter()
        emb = make_set(work, n, dim)
        print(
            f"set: {n:,} faces × {dim} dims, images hard-linked "
            f"({time.perf_counter() - t0:.1f} s to generate)"
        )
        port = free_port()
        url = f"http://127.0.0.1:{port}/"
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            proc, first_ready = start_server(emb, port)  # empty cache: computes the first view
            try:
                first = first_paint(page, url, n)
                page.wait_for_function(  # the metrics too: all of the first view is cached
                    "document.querySelector('#metrics').innerText.includes('silhouette')",
                    timeout=120000,
                )
            finally:
                stop(proc)
                page.close()
            page = browser.new_page(viewport={"width": 1440, "height": 1000})  # fresh cache
            proc, ready_s = start_server(emb, port)
            try:
                paint = first_paint(page, url, n)
                first_map, first_wire = paint["bytes"], paint["gzip"]
                new_k = [recluster(page, k) for k in NEW_KS]
                cached_k, _ = recluster(page, CACHED_K)
                patch_bytes = new_k[0][1]
                clicks = click_latencies(page, CLICKS)
                rss = peak_rss_mib(proc.pid)
            finally:
                stop(proc)
                browser.close()
        base_bytes, base_gzip = baseline_payload(emb)
        print(
            f"first start, empty cache (PCA, K-means, kNN accuracy, silhouette computed while the "
            f"server answers): {first_ready:.2f} s to ready, process start → map drawn "
            f"{first_ready + first['map']:.2f} s"
        )
        print(
            f"cold start with cache: {ready_s:.2f} s process → server ready; then from "
            f"navigation: first contentful paint (page frame, menu) {paint['fcp']:.2f} s, pies "
            f"drawn {paint['pies']:.2f} s, map of all {n:,} points drawn {paint['map']:.2f} s "
            f"({paint['map_settled']:.2f} s to two more frames); process start → pies drawn "
            f"{ready_s + paint['pies']:.2f} s, → map drawn {ready_s + paint['map']:.2f} s"
        )
        news = ", ".join(f"k={k} {s:.2f} s" for k, (s, _) in zip(NEW_KS, new_k, strict=True))
        print(
            f"re-clustering (projection cached), change k → map redrawn: new K-means {news}; "
            f"cached k={CACHED_K} {cached_k:.2f} s; {patch_bytes / 1e3:.0f} kB sent (only "
            f"colour codes) vs {first_map / 1e6:.2f} MB for the whole map "
            f"({first_map / patch_bytes:.0f}×)"
        )
        print(
            f"click → image: median {1e3 * statistics.median(clicks):.0f} ms, "
            f"max {1e3 * max(clicks):.0f} ms over {len(clicks)} clicks "
            f"({', '.join(f'{1e3 * c:.0f}' for c in clicks)} ms)"
        )
        print(
            f"scatter payload, {n:,} points: {first_map / 1e6:.2f} MB JSON with binary arrays, "
            f"{first_wire / 1e6:.2f} MB gzip'd; baseline number lists "
            f"{base_bytes / 1e6:.2f} MB ({base_bytes / first_map:.1f}×), "
            f"{base_gzip / 1e6:.2f} MB gzip'd ({base_gzip / first_wire:.1f}×)"
        )
        print(f"server peak RSS: {rss:.0f} MiB")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 faces instead of 202,599")
    parser.add_argument("--dim", type=int, default=128, help="vector dimension")
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"needs {CHROMIUM} (Debian's chromium; `make browser` installs it)", file=sys.stderr)
        return 2
    run(20_000 if args.quick else 202_599, 64 if args.quick else args.dim)
    return 0


if __name__ == "__main__":
    sys.exit(main())
