"""Find a user's file that hides one of the library's packages from ``import``.

A script named ``forward.py`` (or ``nn.py``, ...) in the folder a program starts from comes first
in ``sys.path``, so ``import forward`` inside the library would load the user's file and fail far
away with "'forward' is not a package". adcore, which every package imports first, checks once
and names the file instead.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

PACKAGES = ("forward", "reverse", "nn", "optim")  # a shadowed adcore never runs this check


def shadowed(root: Path) -> list[tuple[str, str]]:
    """(package, the file Python would import for it) for each package that is not ``root``'s."""
    found = []
    for name in PACKAGES:
        module = sys.modules.get(name)
        try:
            spec = module.__spec__ if module is not None else importlib.util.find_spec(name)
        except (ImportError, ValueError):  # a broken module of that name: nothing to compare
            continue
        origin = getattr(spec, "origin", None)
        if origin is None:
            continue
        if Path(origin).resolve() != (root / name / "__init__.py").resolve():
            found.append((name, origin))
    return found


def check(root: Path) -> None:
    """Raise ImportError naming every file that shadows one of the library's packages (those
    beside adcore in ``root``)."""
    found = shadowed(root)
    if found:
        lines = "\n".join(f"  {origin} shadows the library's package '{name}'"
                          for name, origin in found)
        raise ImportError(f"the library's packages are hidden by files of the same name:\n"
                          f"{lines}\nPython finds these first (the folder of the script, or the "
                          f"current folder, comes first in sys.path); rename them, for example "
                          f"to my_{found[0][0]}.py")
