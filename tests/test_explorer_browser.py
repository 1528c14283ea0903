"""End-to-end tests of ``celebalab explore`` in a real headless Chromium (Debian's package).

The app is served on 127.0.0.1 at a free port from a thread; Playwright drives the system
browser (nothing is downloaded). One page walks through the user guide: load, attributes →
pies, pie slice → filter chip, person → gallery → enlarge, clustering → map, click a point →
image (with a person chosen), lasso → selection, dendrogram branch → images, dataset switch,
traversal refused, and the layout at 1440, 1024 and 390 px.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
#: Set to a folder to keep the screenshots (the README's come from here).
SHOTS_ENV = "CELEBALAB_EXPLORER_SHOTS"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason="needs Debian's chromium (make test installs it)"
    ),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def served(synthetic_embedding_set: Path, synth_root: Path, tmp_path_factory) -> Iterator[str]:
    """The explorer on two embedding sets and the dataset root, at http://127.0.0.1:PORT."""

    from celebalab.datasets.table import load_table
    from celebalab.explorer.sources import open_sources
    from celebalab.explorer.synthetic import write_synthetic_set
    from celebalab.explorer.views import Explorer

    table = load_table(synth_root / "CelebA")
    second = tmp_path_factory.mktemp("second") / "synthetic_small"
    write_synthetic_set(second, table, dim=16, seed=1, images=table.attrs["image_dir"])
    explorer = Explorer(
        sources=open_sources([synthetic_embedding_set, second, synth_root / "CelebA"])
    )
    with _serving(explorer) as url:
        yield url


@contextlib.contextmanager
def _serving(explorer) -> Iterator[str]:
    """``explorer``, warmed up, served on 127.0.0.1 at a free port from a thread."""
    from werkzeug.serving import make_server

    from celebalab.explorer.app import build_app

    explorer.warm_up()
    server = make_server("127.0.0.1", _free_port(), build_app(explorer).server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        yield chromium
        chromium.close()


def _choose(page, dropdown: str, label: str, search: str | None = None) -> None:
    """Open a dcc.Dropdown, optionally type a search, click the option whose label starts with
    ``label``, and close the list."""
    page.click(f"#{dropdown}")
    if search is not None:
        page.locator(".dash-dropdown-content input.dash-dropdown-search").fill(search)
    option = page.locator(".dash-dropdown-content [role=option]").filter(
        has_text=re.compile("^" + re.escape(label))
    )
    option.first.click()
    if page.locator(".dash-dropdown-content").count():
        page.keyboard.press("Escape")


def _map_title(page) -> str:
    return page.locator("#map .gtitle").text_content()


def test_user_guide_end_to_end(served: str, browser, synth_root: Path) -> None:
    from celebalab.datasets.table import load_table

    table = load_table(synth_root / "CelebA")
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.on("requestfailed", lambda req: errors.append(f"failed request {req.url}"))
    page.goto(served)

    # first page: pies of the default attributes, the map, the metrics box
    page.wait_for_selector("#pies .slice", timeout=20000)
    page.wait_for_selector("#map .gl-container canvas", timeout=20000)
    assert "all 120 images" in page.locator("#pies .gtitle").text_content()
    assert "identity 1-NN accuracy" in page.locator("#metrics").inner_text()
    assert "kmeans (8 clusters" in _map_title(page)

    # attributes -> pies, with pages
    _choose(page, "attributes", "Bald", search="Bald")
    page.wait_for_function("document.querySelector('#pie-page-label').innerText == 'page 1 of 2'")
    page.click("#pie-next")
    page.wait_for_function(
        "[...document.querySelectorAll('#pies .titletext')].some(e => e.textContent == 'Bald')"
    )

    # a pie slice -> a filter chip every view respects; removing it restores them
    page.click("#pie-prev")
    page.wait_for_selector("#pies .slice")
    page.locator("#pies .slice").first.click()
    chip = page.locator("#chips button")
    chip.wait_for(timeout=10000)
    label = chip.inner_text()
    attribute, value = label.replace(" ×", "").split(" = ")
    column = attribute.strip().replace(" ", "_")
    expected = int((table[column] == (1 if value.strip() == "yes" else 0)).sum())
    page.wait_for_function(
        f"document.querySelector('#pies .gtitle').textContent.includes('{expected} of 120 images')"
    )
    page.wait_for_function(
        f"document.querySelector('#map .gtitle').textContent.includes('{expected} of 120 images')"
    )
    chip.click()
    page.wait_for_function(
        "document.querySelector('#pies .gtitle').textContent.includes('all 120 images')"
    )

    # person -> all their images, click one to enlarge
    person = int(table["identity"].value_counts().index[0])
    _choose(page, "person", f"{person} (", search=str(person))
    n_person = int((table["identity"] == person).sum())
    page.wait_for_function(f"document.querySelectorAll('#person-gallery img').length == {n_person}")
    page.wait_for_function(
        "document.querySelector('#pies .gtitle').textContent"
        f".includes('person {person}, {n_person} images')"
    )
    page.locator("#person-gallery img").first.click()
    page.wait_for_selector("#enlarged", state="visible")
    page.wait_for_function("document.querySelector('#enlarged').naturalWidth > 0")
    page.keyboard.press("Escape")
    page.wait_for_selector("#enlarged", state="hidden")

    # clustering -> map (a new method redraws; k only recolours)
    _choose(page, "method", "DBSCAN")
    page.wait_for_function("document.querySelector('#map .gtitle').textContent.includes('dbscan')")
    _choose(page, "method", "K-means")
    page.fill("#k", "3")
    page.press("#k", "Enter")
    page.wait_for_function(
        "document.querySelector('#map .gtitle').textContent.includes('kmeans (3 clusters')"
    )

    # click a point -> its image, although a person is selected (CelebA-Vis could not)
    page.locator("#map").scroll_into_view_if_needed()
    box = page.locator("#map .js-plotly-plot").bounding_box()
    x, y = page.evaluate("""() => {  // the point of row 0 (one trace per colour: find it)
        const gd = document.querySelector('#map .js-plotly-plot');
        const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
        for (const t of gd._fullData.filter(t => t.name === 'faces')) {
            const j = t.customdata.findIndex(c => c[2] === 0);
            if (j >= 0) return [xa._offset + xa.l2p(t.x[j]), ya._offset + ya.l2p(t.y[j])];
        }
    }""")
    page.mouse.move(box["x"] + x, box["y"] + y)
    page.wait_for_timeout(300)
    page.mouse.click(box["x"] + x, box["y"] + y)
    page.wait_for_selector("#clicked-image", timeout=10000)
    page.wait_for_function("document.querySelector('#clicked-image').naturalWidth > 0")
    assert page.locator("#clicked-caption").inner_text().startswith(str(table["image_id"].iat[0]))
    page.wait_for_function("document.querySelectorAll('#similar-gallery img').length == 12")
    # the similar faces come inline (no request queued before the next click); one enlarges
    first = page.locator("#similar-gallery img").first
    assert first.get_attribute("src").startswith("data:image/jpeg;base64,")
    first.click()
    page.wait_for_selector("#enlarged", state="visible")
    page.wait_for_function("document.querySelector('#enlarged').naturalWidth > 0")
    assert "/explorer/image/0/" in page.locator("#enlarged").get_attribute("src")
    page.keyboard.press("Escape")
    page.wait_for_selector("#enlarged", state="hidden")

    # lasso the whole map -> a selection gallery and its profile (the image panel above grew)
    page.locator("#map").scroll_into_view_if_needed()
    box = page.locator("#map .js-plotly-plot").bounding_box()
    area = page.evaluate("""() => {
        const xa = document.querySelector('#map .js-plotly-plot')._fullLayout.xaxis;
        const ya = document.querySelector('#map .js-plotly-plot')._fullLayout.yaxis;
        return [xa._offset, ya._offset, xa._length, ya._length];
    }""")
    left, top = box["x"] + area[0] + 2, box["y"] + area[1] + 2
    right, bottom = left + area[2] - 4, top + area[3] - 4
    page.mouse.move(left, top)
    page.mouse.down()
    for px, py in ((right, top), (right, bottom), (left, bottom), (left, top + 1)):
        page.mouse.move(px, py, steps=8)
    page.mouse.up()
    page.wait_for_function(
        "document.querySelector('#selection-title').textContent"
        ".startsWith('120 of 120 images: lasso/box')"
    )
    assert page.locator("#selection-gallery img").count() == 60

    # dendrogram (drawn for the hierarchical method): the root holds every image of the subset
    _choose(page, "method", "Hierarchical")
    page.wait_for_selector("#tree .scatterlayer .trace:last-child path.point")
    page.locator("#tree").scroll_into_view_if_needed()
    points = page.locator("#tree .scatterlayer .trace:last-child path.point")
    boxes = [points.nth(i).bounding_box() for i in range(points.count())]
    root = boxes[int(np.argmin([b["y"] for b in boxes]))]  # the highest node
    page.mouse.move(root["x"] + root["width"] / 2, root["y"] + root["height"] / 2)
    page.wait_for_timeout(200)
    page.mouse.click(root["x"] + root["width"] / 2, root["y"] + root["height"] / 2)
    page.wait_for_function(
        "document.querySelector('#branch-title').textContent.includes('120 images in this branch')"
    )

    # an uploaded query must decode; this synthetic set has no model to embed it, and says so
    upload = page.locator("#upload input[type=file]")
    upload.set_input_files(files=[{"name": "x.png", "mimeType": "image/png", "buffer": b"junk"}])
    page.wait_for_function(
        "document.querySelector('#upload-status').textContent.includes('does not decode')"
    )
    upload.set_input_files(str(table.attrs["image_dir"] + "/" + table["image_id"].iat[0]))
    page.wait_for_function(
        "document.querySelector('#upload-status').textContent.includes('no local model')"
    )

    # switch dataset: the second embedding set, then the attributes-only dataset root
    _choose(page, "source", "synthetic_small")
    page.wait_for_function("document.querySelector('#metrics').textContent.includes('16')")
    _choose(page, "source", "CelebA")
    page.wait_for_selector("#source-note .alert")
    assert page.locator("#embedding-controls").is_hidden()
    page.wait_for_function(
        "document.querySelector('#pies .gtitle').textContent.includes('all 120 images')"
    )
    assert not [e for e in errors if "favicon" not in e], errors
    page.close()


def test_images_only_by_id_and_traversal_refused(served: str, browser) -> None:
    page = browser.new_page()
    ok = page.request.get(f"{served}/explorer/image/0/0")
    assert ok.status == 200 and ok.headers["content-type"].startswith("image/")
    assert page.request.get(f"{served}/explorer/thumb/0/0").headers["content-type"] == "image/jpeg"
    for path in (
        "/explorer/image/0/..%2f..%2fetc%2fpasswd",
        "/explorer/image/0/-1",
        "/explorer/thumb/0/100000",
        "/explorer/image/9/0",
        "/explorer/image/0/0/..%2f..",
        "/explorer/image/%2e%2e/%2e%2e/etc/passwd",
        "/explorer/image/0/0.jpg",
        "/explorer/image/0/%2fetc%2fpasswd",
        "/etc/passwd",
        "/../../etc/passwd",
    ):
        answer = page.request.get(served + path)
        assert answer.status == 404 and b"root:" not in answer.body(), path
    page.close()


def test_layout_adapts(served: str, browser, tmp_path: Path) -> None:
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(served)
    page.wait_for_selector("#pies .slice", timeout=20000)
    page.wait_for_selector("#map .gl-container canvas", timeout=20000)
    folder = Path(os.environ.get(SHOTS_ENV) or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    for width in (1440, 1024, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(700)
        assert page.evaluate("document.documentElement.scrollWidth") <= width + 1  # no sideways
        menu = page.locator("#menu").bounding_box()
        views = page.locator("#views").bounding_box()
        if width >= 768:
            assert menu["x"] + menu["width"] <= views["x"] + 1  # menu on the left
        else:
            assert views["y"] >= menu["y"] + menu["height"] - 1  # menu on top, views below
        page.screenshot(path=str(folder / f"explorer_{width}.png"), full_page=True)
    page.close()


def _point_on_map(page, row: int) -> tuple[float, float]:
    """Page coordinates of the map point of dataset ``row`` (on a map drawn with context, a
    point's position is its row)."""
    page.locator("#map").scroll_into_view_if_needed()
    box = page.locator("#map .js-plotly-plot").bounding_box()
    x, y = page.evaluate("""(row) => {
        const gd = document.querySelector('#map .js-plotly-plot');
        const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
        for (const t of gd._fullData.filter(t => t.name === 'faces')) {
            const j = t.customdata.findIndex(c => c[2] === row);
            if (j >= 0) return [xa._offset + xa.l2p(t.x[j]), ya._offset + ya.l2p(t.y[j])];
        }
    }""", row)  # fmt: skip
    return box["x"] + x, box["y"] + y


def _open(browser, served: str, width: int = 1440):
    page = browser.new_page(viewport={"width": width, "height": 1000}, accept_downloads=True)
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.goto(served)
    page.wait_for_selector("#pies .slice", timeout=20000)
    page.wait_for_selector("#map .gl-container canvas", timeout=20000)
    return page, errors


def _shot(page, name: str, tmp_path: Path, card: str) -> None:
    """A screenshot of the viewport with the card ``card`` (its id) at the top."""
    folder = Path(os.environ.get(SHOTS_ENV) or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    page.evaluate(f"document.getElementById('{card}').scrollIntoView()")
    page.wait_for_timeout(300)
    page.screenshot(path=str(folder / name), full_page=False)


def _faces_drawn(page) -> dict[str, int]:
    """Points drawn on the map per colour."""
    return page.evaluate("""() => {
        const gd = document.querySelector('#map .js-plotly-plot');
        const out = {};
        for (const t of gd._fullData.filter(t => t.name === 'faces'))
            out[t.marker.color] = (out[t.marker.color] || 0) + t.x.length;
        return out;
    }""")


def test_export_and_table_of_a_filtered_selection(
    served: str, browser, synth_root: Path, tmp_path: Path
) -> None:
    import pandas as pd

    from celebalab.datasets.table import load_table
    from celebalab.explorer._selection import COLUMNS

    table = load_table(synth_root / "CelebA")
    page, errors = _open(browser, served)
    page.locator("#pies .slice").nth(1).click()  # Male = yes
    page.locator("#chips button").wait_for(timeout=10000)
    males = table[table["Male"] == 1]
    page.wait_for_function(
        "document.querySelector('#selection-title').textContent"
        f".startsWith('{len(males)} of 120 images: Male = yes')"
    )
    assert "×" in page.locator("#selection-description").inner_text()  # what stands out
    for button, reader in (("#export-csv", pd.read_csv), ("#export-parquet", pd.read_parquet)):
        with page.expect_download() as download:
            page.click(button)
        path = tmp_path / download.value.suggested_filename
        download.value.save_as(path)
        frame = reader(path)
        assert list(frame.columns) == list(COLUMNS)
        assert frame["image_id"].tolist() == males["image_id"].tolist()
        assert (frame["Male"] == 1).all()
    # the table: the selection, 15 a page, sorted on the server by any column
    page.locator("#table").scroll_into_view_if_needed()
    page.wait_for_function(
        f"document.querySelector('#table-title').textContent.startsWith('{len(males)} of 120')"
    )
    header = page.locator("#table th.dash-header").filter(has_text=re.compile("^.?identity$"))
    header.locator(".column-header--sort").click()  # ascending
    expected = males.sort_values("identity", kind="stable")["image_id"].tolist()
    page.wait_for_function(
        f"document.querySelector('#table td[data-dash-column=image_id]').textContent"
        f" === '{expected[0]}'"
    )
    page.locator("#table .next-page").click()
    page.wait_for_function(
        f"document.querySelector('#table td[data-dash-column=image_id]').textContent"
        f" === '{expected[15]}'"
    )
    shown = page.locator("#table td[data-dash-column=image_id]").all_inner_texts()
    assert shown == expected[15:30]
    _shot(page, "explorer_table_1440.png", tmp_path, "card-table")
    assert not errors, errors
    page.close()


def test_greyed_context_and_cluster_descriptions(
    served: str, browser, synthetic_embedding_set: Path, tmp_path: Path
) -> None:
    from celebalab.explorer import _figures as figures
    from celebalab.explorer.sources import open_sources
    from celebalab.explorer.views import DEFAULT_CLUSTERING, Explorer

    described, _ = Explorer(sources=open_sources([synthetic_embedding_set])).clusters(
        0, DEFAULT_CLUSTERING
    )
    page, errors = _open(browser, served)
    # every cluster in the legend, described as describe_clusters says (checked against pandas)
    page.wait_for_selector("#map-legend .legend-entry")
    legend = page.locator("#map-legend .legend-entry").all_inner_texts()
    assert len(legend) == len(described) == 8
    for label, description in described.items():
        line = next(t for t in legend if t.startswith(f"cluster {label} "))
        assert description.attributes_text() in line and description.identity_text() in line
    assert page.locator("#cluster-gallery .cluster-row").count() == 8
    assert page.locator("#cluster-gallery .cluster-row").first.locator("img").count() == 8
    # a filter greys the rest (drawn, in the context colour) ...
    page.locator("#pies .slice").nth(1).click()  # Male = yes
    page.wait_for_function("document.querySelector('#map .gtitle').textContent.includes('greyed')")
    drawn = _faces_drawn(page)
    assert sum(drawn.values()) == 120 and drawn.get(figures.CONTEXT, 0) > 0
    context = drawn[figures.CONTEXT]
    # ... or hides it, with the toggle
    page.click("#context")
    page.wait_for_function(
        "() => { const gd = document.querySelector('#map .js-plotly-plot');"
        f" return gd._fullData.filter(t => t.name === 'faces').reduce((s, t) => s + t.x.length, 0)"
        f" === {120 - context}; }}"
    )
    assert figures.CONTEXT not in _faces_drawn(page)
    page.click("#context")
    page.locator("#chips button").first.click()  # the filter off
    page.wait_for_function("!document.querySelector('#map .gtitle').textContent.includes('greyed')")
    # a legend entry keeps that cluster only: a chip, the selection, the rest greyed
    first = page.locator("#map-legend .legend-entry").first
    label = int(re.search(r"cluster (\d+)", first.inner_text()).group(1))
    first.click()
    page.wait_for_function(
        f"[...document.querySelectorAll('#chips button')].some(b => b.textContent.startsWith("
        f"'cluster {label}'))"
    )
    page.wait_for_function(
        "document.querySelector('#selection-title').textContent.includes('cluster')"
    )
    size = int(page.locator("#selection-title").inner_text().split(" of ")[0].replace(",", ""))
    page.wait_for_function(
        "() => { const gd = document.querySelector('#map .js-plotly-plot');"
        f" return gd._fullData.filter(t => t.name === 'faces' && t.marker.color === "
        f"'{figures.CONTEXT}').reduce((s, t) => s + t.x.length, 0) === {120 - size}; }}"
    )
    _shot(page, "explorer_clusters_1440.png", tmp_path, "card-map")
    assert not errors, errors
    page.close()


def test_hover_shows_a_thumbnail(served: str, browser) -> None:
    page, errors = _open(browser, served)
    x, y = _point_on_map(page, 5)
    page.mouse.move(x - 30, y - 30)
    page.mouse.move(x, y, steps=5)
    page.wait_for_function(
        "() => { const img = document.querySelector('#hover-thumb');"
        " return img && img.src.endsWith('/explorer/thumb/0/5') && img.complete"
        " && img.naturalWidth > 0; }"
    )
    assert page.locator("#hover-tip").is_visible()
    assert not errors, errors
    page.close()


def test_first_paint_from_the_html_then_the_live_map(served: str, browser) -> None:
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    html = page.request.get(served).text()
    assert 'class="first-pies" src="data:image/svg+xml;base64,' in html  # no script needed
    assert 'class="first-map" src="data:image/png;base64,' in html  # the density image
    page.goto(served)
    page.wait_for_selector("#map .gl-container canvas", timeout=20000)
    page.wait_for_function("getComputedStyle(document.querySelector('#map-preview')).display"
                           " === 'none'")  # fmt: skip
    assert page.locator(".first-paint").count() == 0  # the live page replaced the skeleton
    page.close()


@pytest.fixture(scope="module")
def served_density(synthetic_embedding_set: Path) -> Iterator[str]:
    """The explorer with a point budget of 50: its 120 points are a density map."""
    from celebalab.explorer.sources import open_sources
    from celebalab.explorer.views import Explorer

    explorer = Explorer(sources=open_sources([synthetic_embedding_set]), point_budget=50)
    with _serving(explorer) as url:
        yield url


def test_density_map_zooms_and_resolves_clicks(
    served_density: str, browser, synthetic_embedding_set: Path, tmp_path: Path
) -> None:
    from celebalab.explorer.sources import open_sources
    from celebalab.explorer.views import Explorer

    xy = np.asarray(
        Explorer(sources=open_sources([synthetic_embedding_set])).pipelines[0].map("pca")
    )
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.goto(served_density)
    page.wait_for_selector("#map .imagelayer image", timeout=20000)
    assert "density of 120 points" in _map_title(page)
    first = page.locator("#map .imagelayer image").get_attribute("href")
    page.locator("#map").scroll_into_view_if_needed()
    box = page.locator("#map .js-plotly-plot").bounding_box()
    x, y = page.evaluate("""([x, y]) => {
        const gd = document.querySelector('#map .js-plotly-plot');
        const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
        return [xa._offset + xa.l2p(x), ya._offset + ya.l2p(y)];
    }""", [float(xy[9, 0]), float(xy[9, 1])])  # fmt: skip
    page.mouse.click(box["x"] + x, box["y"] + y)  # a click: the nearest face, found on the server
    page.wait_for_selector("#clicked-caption", timeout=10000)
    image_id = (
        Explorer(sources=open_sources([synthetic_embedding_set])).sources[0].meta["image_id"].iat[9]
    )
    assert page.locator("#clicked-caption").inner_text().startswith(image_id)
    page.wait_for_function("document.querySelectorAll('#similar-gallery img').length == 12")
    _shot(page, "explorer_density_1440.png", tmp_path, "card-map")
    # a zoom (a box dragged on the map) renders the image anew for the new ranges
    page.locator("#map").scroll_into_view_if_needed()  # the image panel above has grown
    box = page.locator("#map .js-plotly-plot").bounding_box()
    page.mouse.move(box["x"] + x - 60, box["y"] + y - 60)
    page.mouse.down()
    page.mouse.move(box["x"] + x + 60, box["y"] + y + 60, steps=6)
    page.mouse.up()
    page.wait_for_function(
        f"document.querySelector('#map .imagelayer image').getAttribute('href') !== '{first}'",
        timeout=20000,
    )
    assert not errors, errors
    page.close()
