"""``celebalab explore`` listens safely: one error line for a bad host or busy port, loopback by
default, and a shared address only with ``--allow-remote`` (then waitress, with a warning)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from celebalab.cli import main


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    return err


def test_port_in_use_is_one_error_line(tmp_path: Path, capsys) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["explore", str(tmp_path), "--port", str(port)]) == 2
    assert "another program is using it; choose another --port" in _error_line(capsys)


@pytest.mark.parametrize("host", ["nope.invalid", "300.1.1.1", "10.255.255.254"])
def test_bad_host_is_one_error_line(host: str, tmp_path: Path, capsys) -> None:
    assert main(["explore", str(tmp_path), "--host", host, "--port", str(_free_port())]) == 2
    assert host in _error_line(capsys)


def test_a_shared_address_needs_allow_remote(tmp_path: Path, capsys) -> None:
    assert main(["explore", str(tmp_path), "--host", "0.0.0.0", "--port", str(_free_port())]) == 2
    assert "add --allow-remote" in _error_line(capsys)


@pytest.mark.slow
@pytest.mark.parametrize(("host", "server"), [("127.0.0.1", "Werkzeug"), ("0.0.0.0", "waitress")])
def test_served_by_waitress_only_when_shared(
    host: str, server: str, synthetic_embedding_set: Path
) -> None:
    port = _free_port()
    options = ["--host", host, "--port", str(port), "--no-precompute", "--allow-remote"]
    command = [sys.executable, "-m", "celebalab.cli", "explore", str(synthetic_embedding_set)]
    command += options
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as answer:
                    assert answer.status == 200
                    assert server in answer.headers.get("Server", "")
                    break
            except OSError:
                assert process.poll() is None, process.stderr.read()
                time.sleep(0.1)
        else:
            pytest.fail("the explorer did not answer")
    finally:
        process.terminate()
        _, err = process.communicate(timeout=30)
    warnings = [line for line in err.splitlines() if line.startswith("warning: the explorer")]
    assert len(warnings) == (host != "127.0.0.1"), err
