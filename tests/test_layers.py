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
