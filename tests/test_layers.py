"""Imports flow downward only: adcore <- forward <- reverse <- nn, optim.

Each package may import those listed for it (plus numpy, typing-extensions and the standard
library); examples, benchmarks, docs and tests may import anything. The imports are read from the
source with ``ast``, so an import inside a function counts as well.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ALLOWED = {
    "adcore": set(),
    "forward": {"adcore"},
    "reverse": {"adcore", "forward"},
    "nn": {"adcore", "reverse"},
    "optim": {"adcore", "reverse"},
}
THIRD_PARTY = {"numpy", "typing_extensions"}


def imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_flow_downward(package: str) -> None:
    broken = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for line, name in imports(path):
            if name in ALLOWED and name != package and name not in ALLOWED[package]:
                broken.append(f"{path.relative_to(ROOT)}:{line}: {package} imports {name}")
    assert not broken, "\n".join(broken)


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_the_library_needs_only_numpy_and_typing_extensions(package: str) -> None:
    import sys
    stdlib = set(sys.stdlib_module_names)
    for path in sorted((ROOT / package).rglob("*.py")):
        for line, name in imports(path):
            allowed = name in ALLOWED or name in THIRD_PARTY or name in stdlib
            assert allowed or name == "__future__", \
                f"{path.relative_to(ROOT)}:{line} imports {name}, which is not a runtime dependency"


# --- no import circle between the library's modules -------------------------------------------

def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _module_imports(path: Path, modules: set[str]) -> set[str]:
    """The library modules that ``path`` imports, wherever the import stands (inside a function,
    or under ``if TYPE_CHECKING:``, where a reader follows it too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in modules}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                base = ".".join(parts + ([node.module] if node.module else []))
            for alias in node.names:  # a submodule, or a name from the module itself
                full = f"{base}.{alias.name}"
                found.add(full if full in modules else base)
    return (found & modules) - {name}


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            v, children = work[-1]
            w = next(children, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == v:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_circle_between_modules() -> None:
    paths = {_module_name(p): p for package in ALLOWED for p in (ROOT / package).rglob("*.py")}
    graph = {name: _module_imports(path, set(paths)) for name, path in paths.items()}
    assert _circles(graph) == []


def test_the_circle_check_finds_a_circle() -> None:
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _circles({"a": {"b"}, "b": set()}) == []


def test_adcore_ops_exports_what_its_modules_declare() -> None:
    """adcore.ops lists no name by hand: its __all__ is its modules' lists, and those name exactly
    the functions declared in them (ops and declared public functions)."""
    import adcore.ops as ops
    from adcore.registry import functions, registry

    declared = {fn.__name__ for fn in [op.fn for op in registry.values()]
                + [f.fn for f in functions.values()]
                if getattr(fn, "__module__", "").startswith("adcore.ops.")}
    exported = set(ops.__all__)
    assert len(exported) == len(ops.__all__)
    assert all(getattr(ops, name).__name__ == name for name in exported)
    assert exported <= declared, exported - declared
    # numpy's routes only (np.linalg.norm, and the p-norm it calls): reached through ops.norm
    assert declared - exported == {"_linalg_norm", "p_norm"}
