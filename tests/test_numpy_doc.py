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
    "np.linalg.eig, eigvals": "complex in general: out of scope (eigh and eigvalsh cover "
    "symmetric matrices)",
    "np.linalg.matrix_rank, cond, tensorsolve, tensorinv, multi_dot": "not yet (matrix_rank is "
    "not differentiable; multi_dot is a chain of np.dot, which works)",
    "scipy.special.erf, erfc": "numpy has no erf; scipy's ufuncs are not routed (scipy is not a "
    "dependency): call adcore.ops.erf / erfc or Tensor.erf (accurate to within an ulp)",
    "np.nanmedian, np.nanquantile, np.nanpercentile": "not yet (each slice keeps a different "
    "number of entries)",
    "np.fft.*, complex dtypes": "complex numbers are not differentiated by this library",
    "np.convolve, np.correlate": "not yet",
    "np.array([x, y]), np.asarray(x), np.r_, np.c_ on traced values": "numpy builds these without "
    "asking the values (no __array_function__): use np.stack, np.concatenate or ops.stack",
    "np.unique, np.searchsorted, np.histogram, np.bincount": "not differentiable in a useful "
    "sense; compute them on plain values (np.asarray of a detached copy)",
    "ufunc methods (np.add.reduce, np.multiply.outer) and out=": "refused by name: use the "
    "function form (np.sum, np.outer), which the tape records",
}


# Where a derivative exists only under a condition, or a value differs from numpy's.
CONDITIONS = """\
## Conditions and differences

- **Values are numpy's**, bit for bit, with these exceptions: a reduction with `where=` may
  differ in the last bit (numpy's masked loop adds in another order); `lstsq`'s residuals and
  singular values are recomputed from differentiable ops (its `x` is numpy's).
- **einsum** computes with the `optimize` it is given, as numpy does: numpy's default
  (`optimize=False`) does not use BLAS, so large contractions are slow in numpy and here alike;
  pass `optimize=True`. Its derivatives plan a contraction path once they are large enough.
- **Invertible matrices**: the derivatives of `inv`, `solve`, `det` and `slogdet` need them (they
  solve with the matrix); at a singular matrix numpy's `LinAlgError` is raised, with its type.
- **One triangle**: `cholesky`, `eigh` and `eigvalsh` read the lower triangle (the upper one with
  `UPLO='U'` or `upper=True`), as numpy's do, so their gradients lie in that triangle; along
  symmetric directions they equal the symmetric gradient PyTorch and JAX report.
- **Distinct eigenvalues and singular values**: the derivatives of `eigh`'s eigenvectors and of
  `svd`'s singular vectors divide by their differences; the values alone (`eigvalsh`, `svdvals`,
  `svd(compute_uv=False)`, `norm(ord='nuc')`) need no such condition. A non-square `svd` also
  needs non-zero singular values, and `full_matrices=False`: the extra columns of the full `U` or
  `Vh` have no unique derivative, and the rules refuse them by name, as JAX and PyTorch do.
- **qr** is differentiable for at least as many rows as columns (as in JAX and PyTorch).
- **pinv** and **lstsq** are differentiated where the rank does not change (full rank).
- **Ties**: `max`, `min`, `nanmax`, `nanmin`, `ptp`, `norm(ord=inf)` and the matrix norms 2 and
  -2 at a repeated singular value share the gradient evenly among the tied entries.
- **Selection**: `where`, `select`, `clip`, `nan_to_num` and relu select derivatives rather than
  multiply them: forward mode never sees the branch not taken. In reverse mode a branch not taken
  still receives a zero cotangent, so a NaN partial there (`sqrt` of a negative number) gives NaN,
  as in JAX and PyTorch: compute the unsafe branch on a safe value (the double-where habit).
- **cumprod** is exact where entries are 0, to every order; its derivative costs O(n^2) along
  the axis.
"""

AUTOGRAD = """\
## HIPS autograd's own tests

`tests/autograd_suite.py` runs autograd's test files (test_numpy, test_scalar_ops,
test_systematic, test_linalg, test_core, test_direct, test_jacobian, test_wrappers; not part of
this repository) against this library, with `autograd.numpy` as plain numpy and autograd's
transformations mapped onto this library's:

    pip download autograd --no-binary :all: --no-deps -d /tmp/ag
    tar xzf /tmp/ag/autograd-*.tar.gz -C /tmp/ag
    python tests/autograd_suite.py /tmp/ag/autograd-1.9.1

With autograd 1.9.1, 332 of its 372 real-valued checks pass (89%; 33 complex-valued ones are out
of scope). Of the 40 that fail, 27 build an array from traced values with `np.array`,
`np.asarray`, `np.r_`, `np.c_` or `np.int64`, or hand a Python list of traced values to
`np.mean`, `np.std`, `np.var`, `np.linalg.norm` or `np.append`: numpy converts those without
asking the values (no `__array_function__`), so no library on plain numpy can see them; write
`np.stack([x, y])` instead. The other 13 test autograd's own API (its `where` with dtype options,
`make_diagonal`, `linalg._dot`, the deprecated `primitive`/`defgrad` wrappers,
`quick_grad_check`, wrapper names and docstrings).
"""


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
    lines += ["", *CONDITIONS.splitlines(), "", *AUTOGRAD.splitlines()]
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
