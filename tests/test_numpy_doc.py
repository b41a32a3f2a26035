"""docs/numpy.md is generated from the registry: every numpy function that reaches an op or a
declared function (through ``__array_function__`` / ``__array_ufunc__`` on a Tensor, a Dual or a
value of vmap, and so under every transformation), with the library's function and the Tensor
methods that reach the same one; then the numpy functions deliberately not supported yet, with the
reason. A test fails when the page is out of date:

    python tests/test_numpy_doc.py > docs/numpy.md
"""
from __future__ import annotations

import sys
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "numpy.md"

# numpy functions users reach for that no declaration answers to yet, and why.
NOT_YET = {
    "np.linalg.lstsq, eig, eigvals, matrix_rank, cond": "not yet (eig and eigvals are complex "
    "in general; matrix_rank is not differentiable)",
    "scipy.special.erf, erfc": "numpy has no erf; scipy's ufuncs are not routed (scipy is not a "
    "dependency): call adcore.ops.erf / erfc or Tensor.erf (accurate to within an ulp)",
    "np.nanmedian, np.nanquantile, np.nanpercentile": "not yet (each slice keeps a different "
    "number of entries)",
    "np.fft.*, complex dtypes": "complex numbers are not differentiated by this library",
    "np.convolve, np.correlate, np.interp": "not yet",
    "np.array([x, y]), np.asarray(x), np.r_, np.c_ on traced values": "numpy builds these without "
    "asking the values (no __array_function__): use np.stack, np.concatenate or ops.stack",
    "np.unique, np.searchsorted, np.histogram, np.bincount": "not differentiable in a useful "
    "sense; compute them on plain values (np.asarray of a detached copy)",
    "ufunc methods (np.add.reduce, np.multiply.outer) and out=": "refused by name: use the "
    "function form (np.sum, np.outer), which the tape records",
}


def _numpy_name(fn: object) -> str:
    module = getattr(fn, "__module__", "") or ""
    name = getattr(fn, "__name__", repr(fn))
    return "np.linalg." + name if "linalg" in module else "np." + name


def rows() -> list[tuple[str, str, str]]:
    import adcore  # noqa: F401  (declares every op)
    from adcore.registry import functions, registry

    found = []
    for record in [*registry.values(), *functions.values()]:
        fn = record.fn
        if fn is None:
            continue
        library = f"`adcore.ops.{fn.__name__}`" if not fn.__name__.startswith("_") else "-"
        methods = ", ".join(f"`.{m}`" for m in (*record.methods, *record.numpy_methods,
                                                   *record.torch_methods))
        for np_fn in record.numpy:
            found.append((_numpy_name(np_fn), library, methods or "-"))
    return sorted(set(found))


def render() -> str:
    lines = [
        "# numpy functions under every transformation",
        "",
        "Each numpy function below, called on a Tensor, a Dual or a value of `vmap` (so inside",
        "`grad`, `jacfwd`, `jacrev`, `hessian`, `vmap` and their nestings), computes what numpy",
        "computes and is differentiated by the registry's rules: a registry op, or a composition",
        "of them. Methods named in the last column reach the same function on a Tensor (numpy's",
        "or PyTorch's names). Generated from the registry: `python tests/test_numpy_doc.py >",
        "docs/numpy.md`.",
        "",
        "| numpy | library function | Tensor methods |",
        "| --- | --- | --- |",
    ]
    lines += [f"| `{np_name}` | {library} | {methods} |" for np_name, library, methods in rows()]
    lines += [
        "",
        "## Not supported (yet)",
        "",
        "A numpy function not listed above raises TypeError naming it (\"np.convolve is not "
        "supported on a Tensor ...\"), never a silent conversion that would drop the gradient.",
        "",
        "| numpy | why |",
        "| --- | --- |",
    ]
    lines += [f"| `{name}` | {why} |" for name, why in NOT_YET.items()]
    return "\n".join(lines) + "\n"


def test_the_page_is_current() -> None:
    assert len(rows()) > 100
    assert DOC.read_text() == render(), ("docs/numpy.md is out of date: run "
                                         "python tests/test_numpy_doc.py > docs/numpy.md")


def test_every_listed_function_reaches_the_library_on_a_tensor() -> None:
    import numpy as np

    from adcore.methods import FUNCTIONS, UFUNCS

    routed = {_numpy_name(f) for f in [*FUNCTIONS, *UFUNCS]}
    listed = {name for name, _, _ in rows()}
    assert listed <= routed, listed - routed
    assert np.sort in FUNCTIONS and np.arctan2 in UFUNCS


if __name__ == "__main__":
    sys.path.insert(0, str(DOC.parent.parent))
    print(render(), end="")
