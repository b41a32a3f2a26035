"""Whole random programs (tests/programs.py), checked every way the library can differentiate them:
forward mode, reverse mode and finite differences agree; jacfwd, jacrev and jacobian agree; the
second derivative forward-over-reverse equals reverse-over-reverse; vmap equals a Python loop.

CI runs a bounded number of examples; for a longer search run
``pytest tests/test_programs.py --hypothesis-profile=long``.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given
from programs import programs

from adcore import gradcheck
from adcore.levels import raw
from forward import jacfwd
from reverse import jacobian, jacrev, vmap


def close(a: Any, b: Any, tol: float = 1e-9) -> None:
    np.testing.assert_allclose(np.asarray(raw(a), dtype=np.float64),
                               np.asarray(raw(b), dtype=np.float64),
                               rtol=tol, atol=tol)


@given(case=programs())
def test_modes_and_finite_differences_agree(case: Any) -> None:
    run, inputs = case
    assert gradcheck(run, *inputs, rtol=1e-4, atol=1e-5)


@given(case=programs())
def test_jacfwd_jacrev_and_jacobian_agree(case: Any) -> None:
    run, inputs = case
    nums = tuple(range(len(inputs)))
    fwd, rev, auto = (j(run, argnums=nums)(*inputs) for j in (jacfwd, jacrev, jacobian))
    for a, b, c in zip(fwd, rev, auto):
        close(a, b)
        close(c, b)


@given(case=programs(max_steps=8))
def test_second_derivatives_forward_over_reverse_equal_reverse_over_reverse(case: Any) -> None:
    run, inputs = case
    weights = np.linspace(0.5, 1.5, int(np.prod(np.shape(run(*inputs))))).reshape(
        np.shape(run(*inputs)))

    def scalar(x: Any) -> Any:
        return (run(x, *inputs[1:]) * weights).sum()

    close(jacfwd(jacrev(scalar))(inputs[0]), jacrev(jacrev(scalar))(inputs[0]), 1e-8)


@given(case=programs(max_steps=8))
def test_vmap_equals_a_loop(case: Any) -> None:
    run, inputs = case
    batch = [np.stack([x * s for s in (1.0, -0.5, 0.25)]) for x in inputs]
    expected = np.stack([run(*[b[k] for b in batch]) for k in range(3)])
    close(vmap(run)(*batch), expected)
    close(vmap(run, in_axes=(0,) + (None,) * (len(inputs) - 1))(batch[0], *inputs[1:]),
          np.stack([run(batch[0][k], *inputs[1:]) for k in range(3)]))
