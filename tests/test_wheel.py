"""The built wheel is complete: installed into a fresh virtual environment (not the source tree),
its ``celebalab explore`` draws the page, the pies and the map in a real browser.

The wheel is built offline from a copy of the project (``--no-build-isolation``: the setuptools
already installed); the new environment reuses this one's packages for the dependencies through
a ``.pth`` file, so nothing is downloaded and only celebalab itself comes from the wheel.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

from test_explorer_browser import BROWSER_ARGS, CHROMIUM

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "celebalab"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium"),
]


def _build_wheel(tmp: Path) -> Path:
    project = _mkdir(tmp / "project")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, project / name)
    shutil.copytree(
        ROOT / "src", project / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-q",
            "-w",
            str(tmp / "dist"),
            str(project),
        ],
        check=True,
        cwd=tmp,
    )
    (wheel,) = (tmp / "dist").glob("celebalab-*.whl")
    return wheel


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True)
    return path


def _fresh_env(tmp: Path, wheel: Path) -> Path:
    """A new venv with the wheel installed; its dependencies come from this environment."""
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    script = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    purelib = subprocess.run([python, "-c", script], check=True, capture_output=True, text=True)
    (Path(purelib.stdout.strip()) / "_dependencies.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n"
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "--no-index",
            "-q",
            str(wheel),
        ],
        check=True,
        cwd=tmp,
    )
    return venv


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_wheel_ships_every_package_file(tmp_path: Path) -> None:
    wheel = _build_wheel(tmp_path)
    names = set(zipfile.ZipFile(wheel).namelist())
    tracked = subprocess.run(
        ["git", "ls-files", "src/celebalab"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.split()
    missing = [p for p in tracked if p.removeprefix("src/") not in names]
    assert not missing, missing


def test_installed_wheel_draws_the_explorer(tmp_path: Path, synthetic_embedding_set: Path) -> None:
    from playwright.sync_api import sync_playwright

    venv = _fresh_env(tmp_path, _build_wheel(tmp_path))
    elsewhere = _mkdir(tmp_path / "cwd")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    script = "import celebalab; print(celebalab.__file__)"
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", script],
        cwd=elsewhere,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert Path(where).is_relative_to(venv), where
    port = _free_port()
    server = subprocess.Popen(
        [
            str(venv / "bin" / "celebalab"),
            "explore",
            str(synthetic_embedding_set),
            "--port",
            str(port),
        ],
        cwd=elsewhere,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(url, timeout=5).close()
                break
            except OSError:
                assert server.poll() is None, server.stderr.read()
                time.sleep(0.1)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            errors: list[str] = []
            page.on("pageerror", lambda err: errors.append(str(err)))
            page.goto(url)
            page.wait_for_selector("#pies .slice", timeout=30000)
            page.wait_for_selector("#map .gl-container canvas", timeout=30000)
            assert "kmeans (8 clusters" in page.locator("#map .gtitle").text_content()
            assert not errors, errors
            browser.close()
    finally:
        server.terminate()
        server.communicate(timeout=30)
