"""End-to-end tests of ``celebalab explore`` in a real headless Chromium (Debian's package).

The app is served on 127.0.0.1 at a free port from a thread; Playwright drives the system
browser (nothing is downloaded). One page walks through the user guide: load, attributes →
pies, pie slice → filter chip, person → gallery → enlarge, clustering → map, click a point →
image (with a person chosen), lasso → selection, dendrogram branch → images, dataset switch,
traversal refused, and the layout at 1440, 1024 and 390 px.
"""

from __future__ import annotations

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
    from werkzeug.serving import make_server

    from celebalab.datasets.table import load_table
    from celebalab.explorer.app import build_app
    from celebalab.explorer.sources import open_sources
    from celebalab.explorer.synthetic import write_synthetic_set
    from celebalab.explorer.views import Explorer

    table = load_table(synth_root / "CelebA")
    second = tmp_path_factory.mktemp("second") / "synthetic_small"
    write_synthetic_set(second, table, dim=16, seed=1, images=table.attrs["image_dir"])
    explorer = Explorer(
        sources=open_sources([synthetic_embedding_set, second, synth_root / "CelebA"])
    )
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
        "document.querySelector('#selection-title').textContent.includes('of 120 selected images')"
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
