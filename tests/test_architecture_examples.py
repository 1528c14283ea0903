"""The Python examples of docs/ARCHITECTURE.md run as written, in order, on a synthetic copy.

The blocks share one namespace (a later block uses the ``data`` an earlier one opened) and run
in a folder holding ``data/synth`` (as ``celebalab data synth data/synth`` writes it). A comment
``# prints: TEXT`` says what the block prints: each such TEXT (up to a closing ``…``) must
appear in its output.
"""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest

PAGE = Path(__file__).parents[1] / "docs" / "ARCHITECTURE.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```$", PAGE.read_text(encoding="utf-8"), re.S | re.M)


def test_the_page_has_examples() -> None:
    assert len(BLOCKS) >= 5


def test_the_examples_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from celebalab.datasets.synth import generate

    generate(tmp_path / "data" / "synth", 60, seed=0, n_hq=0, workers=1)
    monkeypatch.chdir(tmp_path)
    module = types.ModuleType("architecture_examples")  # dataclasses look their module up
    monkeypatch.setitem(sys.modules, module.__name__, module)
    for number, block in enumerate(BLOCKS, 1):
        code = compile(block, f"{PAGE.name}, python block {number}", "exec")
        exec(code, module.__dict__)  # the page's own examples
        printed = capsys.readouterr().out
        for expected in re.findall(r"#\s*prints:\s*(.+?)\s*…?$", block, re.M):
            assert expected in printed, f"block {number} should print {expected!r}: {printed!r}"
