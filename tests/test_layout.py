"""The package's layers: no module imports from a layer above its own, no import circle.

Imports are read from the source (``ast``), including imports inside functions and
under ``TYPE_CHECKING``: a circle of type-only imports is still a circle for a reader.
"""

from __future__ import annotations

import ast
import importlib
import warnings
from pathlib import Path

import pytest

import nanoalloy
from nanoalloy._shim import MOVED

PKG = Path(nanoalloy.__file__).parent

#: layer of each top-level part of the package, lowest first. A module may import
#: its own layer and those below; the three analysis wings (2) do not import each other.
LAYERS: dict[str, int] = {
    "errors": 0,
    "_version": 0,
    "_parallel": 0,
    "output": 0,
    "chem": 1,
    "ms": 2,
    "kinetics": 2,
    "uvvis": 2,
    "results": 3,
    "app": 4,
    "batch": 4,
    "demo": 4,
    "commands": 5,
    "cli": 5,
    "__init__": 6,
    "__main__": 6,
}


def _module(path: Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Absolute nanoalloy modules (or packages) imported anywhere in a file."""
    mod = _module(path)
    pkg = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("nanoalloy"):
                continue
            for alias in node.names:  # `from . import x` may name a module
                sub = f"{target}.{alias.name}"
                out.add(sub if _exists(sub) else target)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("nanoalloy")}
    return out


def _exists(mod: str) -> bool:
    rel = Path(*mod.split(".")[1:])
    return (PKG / rel).with_suffix(".py").exists() or (PKG / rel / "__init__.py").exists()


def _part(mod: str) -> str:
    parts = mod.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


SOURCES = sorted(
    p for p in PKG.rglob("*.py") if _module(p).split(".")[-1] not in MOVED and p.name != "_shim.py"
)
GRAPH = {_module(p): _imports(p) for p in SOURCES}


def test_every_part_has_a_layer() -> None:
    assert {_part(m) for m in GRAPH} <= set(LAYERS)


def violations(mod: str, targets: set[str]) -> list[str]:
    """Imports of ``mod`` that go up a layer, sideways between wings, or to an old path."""
    me = LAYERS[_part(mod)]
    bad = []
    for target in sorted(targets):
        if target.removeprefix("nanoalloy.") in MOVED:
            bad.append(f"{mod} imports the old path {target}")
            continue
        them = LAYERS[_part(target)]
        if them > me:
            bad.append(f"{mod} (layer {me}) imports {target} (layer {them})")
        elif me == them == 2 and _part(target) != _part(mod):
            bad.append(f"{mod} imports the other wing {target}")
    return bad


@pytest.mark.parametrize("mod", sorted(GRAPH))
def test_imports_go_down(mod: str) -> None:
    assert violations(mod, GRAPH[mod]) == []


def test_the_check_catches_violations() -> None:
    assert violations("nanoalloy.ms.io", {"nanoalloy.results.report"})
    assert violations("nanoalloy.kinetics.fit", {"nanoalloy.ms.synth"})
    assert violations("nanoalloy.ms.assign.result", {"nanoalloy.report"})
    assert not violations("nanoalloy.results.series", {"nanoalloy.ms.io", "nanoalloy.chem"})


def test_no_import_circle() -> None:
    # a package's __init__ importing its own submodules is the only allowed edge back
    edges = {
        m: {t for t in ts if t in GRAPH and not (m.startswith(t + ".") and t != "nanoalloy")}
        for m, ts in GRAPH.items()
    }
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for t in sorted(edges[m]):
            if state.get(t) == 1:
                cycle = stack[stack.index(t) :] + [t]
                raise AssertionError("import circle: " + " -> ".join(cycle))
            if t not in state:
                visit(t)
        stack.pop()
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            visit(m)


@pytest.mark.parametrize("old", sorted(MOVED))
def test_old_import_paths_still_work(old: str) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mod = importlib.import_module(f"nanoalloy.{old}")
    assert mod is importlib.import_module(MOVED[old])
    # warned on first import (later imports are cached and silent)
    assert all(issubclass(w.category, DeprecationWarning) for w in caught)
