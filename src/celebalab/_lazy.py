"""Lazy package exports: ``celebalab --help`` and light imports must not load torch.

Each package ``__init__`` lists its public names in a table ``name -> module`` and sets
``__getattr__ = lazy_exports(__name__, TABLE)``; a name's module is imported on first use.
A name that moved to another package stays reachable for one release through ``moved``
(``name -> its new package``): using it warns and says where it went.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any


def lazy_exports(
    package: str, homes: Mapping[str, str], moved: Mapping[str, str] | None = None
) -> Callable[[str], Any]:
    """Return a module-level ``__getattr__`` that imports ``homes[name]`` when ``name`` is used
    (and, warning, ``moved[name]`` for a name that moved)."""
    moved = dict(moved or {})

    def __getattr__(name: str) -> Any:
        if name in homes:
            return getattr(import_module(homes[name]), name)
        if name in moved:
            warnings.warn(
                f"{package}.{name} moved to {moved[name]}.{name}; the old name goes in the next "
                "release",
                DeprecationWarning,
                stacklevel=2,
            )
            return getattr(import_module(moved[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
