"""Benchmark ``celebalab explore`` in a real browser (Debian's headless chromium, Playwright).

On generated sets (person-clustered synthetic vectors, random attributes; 100 real JPEGs
hard-linked under every name, so every point has an image) of 202,599 and 1,000,000 faces, and
5,000,000 for the density map (no image files: a click resolves its face), it measures:

- first start (cache empty: PCA, K-means, identity kNN accuracy, silhouette, neighbour index and
  the density preview computed while the server already answers): process launch → the map;
- start with the cache warm: process launch → server ready, then from navigation the first
  contentful paint, the pies painted (the server-drawn SVG in the page's HTML) and drawn by
  plotly.js, the map's density image painted (in the HTML) and the map itself drawn (every
  point in WebGL, or the density map above the point budget); and from process launch the
  pies and the map (or density) painted (a fresh browser: nothing in its HTTP cache);
- re-clustering with the projection cached: new values of k (each a new K-means), then back to
  a cached k, from the key press to the new map title with every point (or the density image)
  drawn again, and the bytes the browser received for it;
- click → image: a click on a map point (or, on the density map, on a point's pixel: resolved
  on the server) until its image has decoded (median and max);
- the payload of the map (bytes of the Dash response, and gzip'd) against the same arrays sent
  as JSON number lists (the baseline, built in this run, WebGL maps only);
- peak RSS of the server process.

Targets on the 2-core machine (cache warm): process start → pies < 2 s, → map (or density)
< 3 s; a new k → redrawn < 1 s; click → image < 150 ms.

    python benchmarks/bench_explore.py                  # 202,599 and 1,000,000; 5,000,000 density
    python benchmarks/bench_explore.py --quick          # 20,000 faces
    python benchmarks/bench_explore.py --sizes 202599 --density-sizes
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
TIMEOUT_MS = 600_000


def make_set(folder: Path, n: int, dim: int, images: bool = True) -> Path:
    """An embedding set of ``n`` faces (~20 per person), with an image file for every row when
    ``images`` (hard links to 100 JPEGs)."""
    from PIL import Image

    from celebalab.datasets.schema import ATTRIBUTE_NAMES
    from celebalab.explorer.synthetic import write_synthetic_set

    rng = np.random.default_rng(0)
    ids = np.char.add(np.char.zfill(np.arange(1, n + 1).astype(str), 7 if n >= 10**6 else 6),
                      ".jpg")  # fmt: skip
    rates = rng.uniform(0.05, 0.6, len(ATTRIBUTE_NAMES))
    table = pd.DataFrame(
        {
            "image_id": ids,
            "identity": np.sort(rng.integers(1, n // 20 + 1, n)),
            "partition": np.zeros(n, np.int8),
        }
    )
    attrs = (rng.random((n, len(ATTRIBUTE_NAMES)), dtype=np.float32) < rates).astype(np.uint8)
    table = pd.concat([table, pd.DataFrame(attrs, columns=list(ATTRIBUTE_NAMES))], axis=1)
    folder_images = folder / "images"
    folder_images.mkdir(parents=True)
    if images:
        originals = []
        for k in range(DISTINCT_IMAGES):
            coarse = (rng.random((11, 9, 3)) * 255).astype(np.uint8)
            path = folder_images / f"original_{k}.jpg"
            Image.fromarray(coarse).resize((178, 218), Image.Resampling.BICUBIC).save(
                path, quality=90
            )
            originals.append(path)
        for i, name in enumerate(ids):
            os.link(originals[i % DISTINCT_IMAGES], folder_images / name)
    write_synthetic_set(folder / "emb", table, dim=dim, noise=0.6, seed=0, images=folder_images)
    return folder / "emb"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(emb: Path, port: int, budget: int) -> tuple[subprocess.Popen, float]:
    """Launch ``celebalab explore`` and wait until it answers; (process, seconds to ready)."""
    import urllib.request

    exe = Path(sys.executable).with_name("celebalab")
    start = time.perf_counter()
    proc = subprocess.Popen(
        [str(exe), "explore", str(emb), "--port", str(port), "--point-budget", str(budget)],
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


#: The output of the map's callback (points, density image, or only new colour codes).
MAP_OUTPUT = "..map-data.data...map-title.data.."


def _is_map_update(response) -> bool:
    if "_dash-update-component" not in response.url:
        return False
    return json.loads(response.request.post_data or "{}").get("output") == MAP_OUTPUT


#: Runs in the page from its first script: notes (performance.now(), i.e. ms since navigation
#: start) when each thing is first seen drawn, once per animation frame: the pies as an image
#: (the server-drawn SVG) and by plotly.js, the density image, the map (all points, or the
#: density map's image inside plotly's figure).
_PAINT_WATCH = """
window.__paints = {};
(function watch() {
    const p = window.__paints, n = window.__mapPoints, now = performance.now();
    const shown = (sel) => [...document.querySelectorAll(sel)].some(
        (img) => img.complete && img.naturalWidth > 0 && img.offsetWidth > 0);
    if (!p.piesImage && shown('img.first-pies, img.pies-placeholder')) p.piesImage = now;
    if (!p.pies && document.querySelector('#pies .pielayer path.surface')) p.pies = now;
    if (!p.preview && shown('img.first-map, #map-preview')) p.preview = now;
    const gd = document.querySelector('#map .js-plotly-plot');
    const drawn = gd && gd._fullData ? gd._fullData.filter(t => t.name === 'faces')
        .reduce((sum, t) => sum + (t.x ? t.x.length : 0), 0) : 0;
    const density = document.querySelector('#map .imagelayer image');
    if (!p.map && n && ((drawn === n && document.querySelector('#map .gl-container canvas'))
                        || density)) p.map = now;
    if (!(p.pies && p.map)) requestAnimationFrame(watch);
})();
"""


def first_paint(page, url: str, n: int) -> dict[str, float | int]:
    """Seconds from navigation to each first paint (see ``_PAINT_WATCH``) and the bytes of the
    map's response (sent as is, and gzip'd)."""
    page.add_init_script(f"window.__mapPoints = {n};" + _PAINT_WATCH)
    start = time.perf_counter()
    with page.expect_response(_is_map_update, timeout=TIMEOUT_MS) as answer:
        page.goto(url, timeout=TIMEOUT_MS)
    page.wait_for_function("() => window.__paints.map && window.__paints.pies", timeout=TIMEOUT_MS)
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    seconds = time.perf_counter() - start
    marks = page.evaluate(
        "() => ({fcp: (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime,"
        " ...window.__paints})"
    )
    nan = float("nan")
    try:
        body = answer.value.body()
        size, zipped = len(body), len(gzip.compress(body, 6))
    except Exception:  # a body of tens of MB is evicted from the inspector's cache
        size, zipped = answer.value.request.sizes()["responseBodySize"], nan
    return {
        **{
            k: (marks.get(k) or nan * 1e3) / 1e3
            for k in ("fcp", "piesImage", "pies", "preview", "map")
        },
        "map_settled": seconds,
        "bytes": size,
        "gzip": zipped,
    }


def recluster(page, k: int, density: bool) -> tuple[float, int]:
    """(seconds from the new k to the new map title with every point, or the new density
    image, drawn, bytes of the map's update)."""
    before = page.evaluate(
        "() => (document.querySelector('#map .imagelayer image') || {getAttribute: () => ''})"
        ".getAttribute('href')"
    )
    start = time.perf_counter()
    with page.expect_response(_is_map_update, timeout=TIMEOUT_MS) as answer:
        page.fill("#k", str(k))
        page.press("#k", "Enter")
    page.wait_for_function(
        f"document.querySelector('#map .gtitle').textContent.includes('kmeans ({k} clusters')",
        timeout=TIMEOUT_MS,
        polling="raf",
    )
    if density:
        page.wait_for_function(
            "(before) => { const i = document.querySelector('#map .imagelayer image');"
            " return i && i.getAttribute('href') !== before; }",
            arg=before,
            timeout=TIMEOUT_MS,
            polling="raf",
        )
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => r()))")  # one frame drawn
    return time.perf_counter() - start, answer.value.request.sizes()["responseBodySize"]


def _click_spots(page, clicks: int, xy: np.ndarray | None) -> list[list[float]]:
    """Plot-area pixels of points spread over the map (its traces, or ``xy`` rows)."""
    if xy is not None:
        rows = np.random.default_rng(1).choice(len(xy), clicks, replace=False)
        return page.evaluate(
            """(points) => {
            const gd = document.querySelector('#map .js-plotly-plot');
            const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
            return points.map(([x, y]) => [xa._offset + xa.l2p(x), ya._offset + ya.l2p(y)]);
        }""",
            xy[rows].astype(float).tolist(),
        )
    return page.evaluate(  # points spread over the map's traces (one per colour)
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


def click_latencies(page, clicks: int, xy: np.ndarray | None, images: bool) -> list[float]:
    """Seconds from each answered click to its image decoded (or, without image files, its
    caption); a click unanswered after 20 s is left out (the report says how many)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.locator("#map").scroll_into_view_if_needed()
    times = []
    previous = None
    for x, y in _click_spots(page, clicks, xy):
        page.locator("#map").scroll_into_view_if_needed()  # the image panel above may grow
        box = page.locator("#map .js-plotly-plot").bounding_box()
        page.mouse.move(box["x"] + x, box["y"] + y)
        page.wait_for_timeout(150)
        start = time.perf_counter()
        page.mouse.click(box["x"] + x, box["y"] + y)
        try:
            page.wait_for_function(
                "([prev, images]) => { const img = document.querySelector('#clicked-image');"
                " const caption = document.querySelector('#clicked-caption');"
                " return caption && caption.textContent !== prev"
                " && (!images || (img && img.complete && img.naturalWidth > 0)); }",
                arg=[previous, images],
                timeout=20000,
            )
        except PlaywrightTimeout:  # counted as unanswered, the next click goes on
            continue
        times.append(time.perf_counter() - start)
        previous = page.locator("#clicked-caption").text_content()
    return times


def baseline_payload(emb: Path) -> tuple[int, int]:
    """(bytes, gzip bytes) of the same map arrays as JSON number lists."""
    import plotly.io as pio

    from celebalab.explorer._figures import from_typed_array
    from celebalab.explorer.sources import open_source
    from celebalab.explorer.views import DEFAULT_CLUSTERING, Explorer

    explorer = Explorer(sources=[open_source(emb)])
    data = dict(explorer.map_data(0, DEFAULT_CLUSTERING, [], None))
    for key in ("x", "y", "hover", "codes"):
        data[key] = from_typed_array(data[key]).tolist()
    body = pio.to_json(data, validate=False).encode()
    return len(body), len(gzip.compress(body, 6))


def map_points(emb: Path) -> np.ndarray:
    """The first view's 2-D map, read from the explorer's cache."""
    from celebalab.explorer.sources import open_source
    from celebalab.explorer.views import DEFAULT_CLUSTERING, Explorer

    explorer = Explorer(sources=[open_source(emb)])
    return np.asarray(explorer.pipelines[0].map(DEFAULT_CLUSTERING["reducer"]))


def plotly_evaluation(runs: int = 3) -> tuple[float, float]:
    """Median ms Chromium takes to parse and run plotly.js: the whole bundle that Dash would
    load (plotly's ``plotly.min.js``) and the explorer's partial one, each in a fresh page."""
    from importlib.resources import files

    from playwright.sync_api import sync_playwright

    bundles = (
        files("plotly") / "package_data" / "plotly.min.js",
        files("celebalab.explorer") / "assets" / "plotly-explorer.min.js",
    )
    medians = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        for bundle in bundles:
            source = bundle.read_text()
            times = []
            for _ in range(runs):
                page = browser.new_page()
                times.append(page.evaluate(
                    "(src) => { const t = performance.now(); (0, eval)(src);"
                    " return performance.now() - t; }", source))  # fmt: skip
                page.close()
            medians.append(statistics.median(times))
        browser.close()
    return medians[0], medians[1]


def run(n: int, dim: int, budget: int, images: bool) -> None:
    from playwright.sync_api import sync_playwright

    density = n > budget
    work = Path(tempfile.mkdtemp(prefix="bench_explore_"))
    try:
        t0 = time.perf_counter()
        emb = make_set(work, n, dim, images=images)
        kind = f"density map (point budget {budget:,})" if density else "WebGL points"
        print(
            f"\n== {n:,} faces × {dim} dims, map: {kind}; "
            f"{'images hard-linked' if images else 'no image files'} "
            f"({time.perf_counter() - t0:.1f} s to generate); load average "
            f"{' '.join(f'{v:.1f}' for v in os.getloadavg())}"
        )
        port = free_port()
        url = f"http://127.0.0.1:{port}/"
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            proc, first_ready = start_server(emb, port, budget)  # empty cache
            try:
                first = first_paint(page, url, n)
                page.wait_for_function(  # the metrics too: all of the first view is cached
                    "document.querySelector('#metrics').innerText.includes('silhouette')",
                    timeout=TIMEOUT_MS,
                )
                page.wait_for_timeout(25000 if n > 10**6 else 8000)  # the preview, the index
            finally:
                stop(proc)
                page.close()
            xy = map_points(emb) if density else None
            page = browser.new_page(viewport={"width": 1440, "height": 1000})  # fresh cache
            proc, ready_s = start_server(emb, port, budget)
            try:
                paint = first_paint(page, url, n)
                new_k = [recluster(page, k, density) for k in NEW_KS]
                cached_k, _ = recluster(page, CACHED_K, density)
                clicks = click_latencies(page, CLICKS, xy, images)
                rss = peak_rss_mib(proc.pid)
            finally:
                stop(proc)
                browser.close()
        print(
            f"first start, empty cache (PCA, K-means, kNN accuracy, silhouette computed while the "
            f"server answers): {first_ready:.2f} s to ready, process start → map drawn "
            f"{first_ready + first['map']:.2f} s"
        )
        print(
            f"start with the cache warm: {ready_s:.2f} s process → server ready; from "
            f"navigation: first contentful paint {paint['fcp']:.2f} s, pies painted (server-drawn "
            f"SVG in the HTML) {paint['piesImage']:.2f} s, pies drawn by plotly.js "
            f"{paint['pies']:.2f} s, density image painted {paint['preview']:.2f} s, map "
            f"({'density map' if density else f'all {n:,} points'}) drawn {paint['map']:.2f} s"
        )
        print(
            f"  process start → pies painted {ready_s + paint['piesImage']:.2f} s (target < 2 s; "
            f"plotly.js pies {ready_s + paint['pies']:.2f} s), → map or density painted "
            f"{ready_s + min(paint['preview'], paint['map']):.2f} s (target < 3 s; interactive "
            f"map {ready_s + paint['map']:.2f} s)"
        )
        news = ", ".join(f"k={k} {s:.2f} s" for k, (s, _) in zip(NEW_KS, new_k, strict=True))
        print(
            f"re-clustering (projection cached), new k → map redrawn (target < 1 s): new K-means "
            f"{news}; cached k={CACHED_K} {cached_k:.2f} s; {new_k[0][1] / 1e3:.0f} kB sent vs "
            f"{paint['bytes'] / 1e6:.2f} MB for the whole map"
        )
        what = "image" if images else "its caption (no image files)"
        answered, clicks = len(clicks), clicks or [float("nan")]
        print(
            f"click → {what} (target < 150 ms): median {1e3 * statistics.median(clicks):.0f} ms, "
            f"max {1e3 * max(clicks):.0f} ms over {answered} answered of {CLICKS} clicks "
            f"({', '.join(f'{1e3 * c:.0f}' for c in clicks)} ms)"
        )
        if not density:
            base_bytes, base_gzip = baseline_payload(emb)
            print(
                f"map payload, {n:,} points: {paint['bytes'] / 1e6:.2f} MB JSON with binary "
                f"arrays, {paint['gzip'] / 1e6:.2f} MB gzip'd; baseline number lists "
                f"{base_bytes / 1e6:.2f} MB ({base_bytes / paint['bytes']:.1f}×), "
                f"{base_gzip / 1e6:.2f} MB gzip'd ({base_gzip / paint['gzip']:.1f}×)"
            )
        else:
            print(f"map payload: {paint['bytes'] / 1e3:.0f} kB (the density image and layout)")
        print(f"server peak RSS: {rss:.0f} MiB")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    from celebalab.explorer._density import POINT_BUDGET

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 faces only")
    parser.add_argument("--sizes", type=int, nargs="*", default=[202_599, 1_000_000],
                        help="set sizes with image files")  # fmt: skip
    parser.add_argument("--density-sizes", type=int, nargs="*", default=[5_000_000],
                        help="set sizes above the point budget, without image files")  # fmt: skip
    parser.add_argument("--dim", type=int, default=128, help="vector dimension (≤ 1,000,000)")
    parser.add_argument("--point-budget", type=int, default=POINT_BUDGET)
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"needs {CHROMIUM} (Debian's chromium; `make browser` installs it)", file=sys.stderr)
        return 2
    sys.path.insert(0, str(Path(__file__).parent))
    from run_all import machine_description

    print(f"machine: {machine_description()}")
    full, partial = plotly_evaluation()
    print(
        f"plotly.js parse + run in chromium (median of 3): the whole bundle {full:.0f} ms, the "
        f"explorer's partial bundle (bar, heatmap, pie, scatter, scattergl) {partial:.0f} ms"
    )
    if args.quick:
        run(20_000, 64, args.point_budget, images=True)
        return 0
    for n in args.sizes:
        run(n, args.dim if n <= 1_000_000 else 16, args.point_budget, images=True)
    for n in args.density_sizes:
        run(n, 16, args.point_budget, images=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
