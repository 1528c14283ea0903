"""Lazy package exports: ``celebalab --help`` and light imports must not load torch.

Each package ``__init__`` lists its public names in a table ``name -> module`` and sets
``__getattr__ = lazy_exports(__name__, TABLE)``; a name's module is imported on first use.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any


def lazy_exports(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """Return a module-level ``__getattr__`` that imports ``homes[name]`` when ``name`` is used."""

    def __getattr__(name: str) -> Any:
        if name in homes:
            return getattr(import_module(homes[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
