"""The import structure, read from the source (AST), module-level and lazy imports alike:

- no import circles: no module pair imports each other;
- nothing private crosses a package: ``celebalab.x._mod`` is imported only inside package ``x``,
  a ``_name`` only in its own module (tests may reach in; the library may not);
- no upward imports: a package imports only from packages in lower layers
  (:data:`LAYERS`, the order of the design page's package table).

Imports under ``if TYPE_CHECKING:`` are annotations only and do not count.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).parents[1] / "src"

#: Layers, lowest first; a package (or top-level module) imports only from lower layers.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("celebalab", "errors", "_lazy", "_help", "stopping"),
    ("io", "runtime", "_progress"),
    ("options", "rundir", "reports"),
    ("cli_options",),
    ("datasets",),
    ("alignment", "metrics"),
    ("analysis", "models"),
    ("embeddings", "generate"),
    ("retrieval",),
    ("explorer", "explain"),
    ("demo",),
    ("cli",),
)


def _modules() -> dict[str, Path]:
    found = {}
    for path in SRC.rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _owner(name: str) -> str | None:
    """The module ``name`` refers to (a module, or a module's attribute)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                skipped.update(id(n) for n in ast.walk(inner))
    return skipped


def _imports(module: str) -> list[tuple[str, str, int]]:
    """``(imported module, name imported or "", line)`` of every celebalab import."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _type_checking_nodes(tree)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [(_owner(a.name), "", node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            for alias in node.names:
                full = f"{base}.{alias.name}"
                if full in MODULES:
                    found.append((full, "", node.lineno))
                else:
                    found.append((_owner(base), alias.name, node.lineno))
    return [(m, n, line) for m, n, line in found if m and m.startswith("celebalab") and m != module]


EDGES = {module: _imports(module) for module in MODULES}


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def test_no_module_pair_imports_each_other() -> None:
    imports = {a: {b for b, _, _ in edges} for a, edges in EDGES.items()}
    circles = sorted({tuple(sorted((a, b))) for a, targets in imports.items() for b in targets
                      if a in imports.get(b, ())})  # fmt: skip
    assert not circles


def test_no_private_import_across_packages() -> None:
    """A private module (``pkg._mod``) is imported only inside ``pkg``; a private name
    (``_name``) only inside its own module."""
    crossing = []
    for module, edges in EDGES.items():
        for target, name, line in edges:
            parts = target.split(".")
            first = next((i for i, p in enumerate(parts) if p.startswith("_")), None)
            home = ".".join(parts[:first]) if first is not None else None
            outside = home is not None and not (module + ".").startswith(home + ".")
            if outside or (name.startswith("_") and not name.startswith("__")):
                crossing.append(f"{module}:{line} imports {target} {name}".strip())
    assert not crossing


def test_no_upward_imports() -> None:
    layer = {name: i for i, names in enumerate(LAYERS) for name in names}
    assert set(map(_top, MODULES)) <= set(layer), set(map(_top, MODULES)) - set(layer)
    upward = []
    for module, edges in EDGES.items():
        for target, _, line in edges:
            a, b = _top(module), _top(target)
            if a != b and layer[b] >= layer[a]:
                upward.append(f"{module}:{line} imports {target} (layer {layer[b]} >= {layer[a]})")
    assert not upward


def test_the_command_line_imports_no_torch() -> None:
    """``celebalab --help`` stays quick: the CLI and every option dataclass load without torch."""
    import subprocess
    import sys

    code = "import sys, celebalab.cli; sys.exit('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": str(SRC)})
    assert done.returncode == 0, "importing celebalab.cli imports torch"


def test_each_api_page_documents_its_package_face() -> None:
    """docs/api/PKG.md documents exactly the names ``celebalab.PKG`` exports (its ``__all__``)."""
    import importlib
    import re

    for page in sorted((SRC.parent / "docs" / "api").glob("*.md")):
        package = importlib.import_module(f"celebalab.{page.stem}")
        paths = re.findall(r"^:::\s*(celebalab[\w.]+)", page.read_text(encoding="utf-8"), re.M)
        assert {p.rsplit(".", 1)[1] for p in paths} == set(package.__all__), page.name


def _hosts_of_package_faces() -> set[str]:
    """Modules that define a name some package exports (``__all__``): their paths are public."""
    import importlib

    hosts = set()
    for module in MODULES:
        if MODULES[module].name != "__init__.py":
            continue
        face = importlib.import_module(module)
        for name in getattr(face, "__all__", ()):
            hosts.add(getattr(getattr(face, name), "__module__", "") or "")
    return hosts


def test_each_public_module_earns_its_name() -> None:
    """A module without a leading underscore hosts a name of its package's face, is a
    command group (``cli*``), is used by another package or is a moved path that warns; anything
    else is internal and
    says so with ``_``."""
    hosts = _hosts_of_package_faces()
    used_outside = {target for module, edges in EDGES.items() for target, _, _ in edges
                    if _top(target) != _top(module)}  # fmt: skip
    unearned = [
        module for module, path in MODULES.items()
        if module.count(".") >= 2 and path.name != "__init__.py"
        and not any(part.startswith("_") for part in module.split(".")[1:])
        and not module.rsplit(".", 1)[1].startswith("cli")
        and module not in hosts and module not in used_outside
        and "DeprecationWarning" not in path.read_text(encoding="utf-8")
    ]  # fmt: skip
    assert not unearned
