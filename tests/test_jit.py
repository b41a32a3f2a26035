"""jit: every registry op, alone and under grad, jacfwd and vmap, gives bit for bit what it gives
without jit; the cache, static arguments, pytrees, compositions and each error.

Bit for bit: the compiled program calls the same forward rules on the same values as the eager
computation, so the bytes of every result must be equal (NaN included), not merely close.
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from programs import programs
from strategies import HypothesisDraw, arrays_in, arrays_out, other_values
from test_registry import OPS, draw_case, like

import nn
from adcore import ops, registry
from forward import jacfwd
from reverse import Tensor, grad, hessian, jacrev, jit, make_program, value_and_grad, vjp, vmap


def identical(a: Any, b: Any) -> None:
    """The same pytree of the same arrays, byte for byte (so NaN equals NaN, -0.0 is not 0.0)."""
    if isinstance(a, (tuple, list)):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b):
            identical(x, y)
        return
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            identical(a[k], b[k])
        return
    x, y = np.asarray(a), np.asarray(b)
    assert x.dtype == y.dtype and x.shape == y.shape, (x.dtype, x.shape, y.dtype, y.shape)
    assert x.tobytes() == y.tobytes(), (x, y)


def _twice(jitted: Any, eager: Any, *args: Any) -> None:
    """The traced call and a compiled call both equal the eager result."""
    want = eager(*args)
    identical(jitted(*args), want)  # the call that traces
    identical(jitted(*args), want)  # a call that runs the compiled program
    assert jitted.cache_info().hits >= 1


# --- every registry op ------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["op", "grad", "jacfwd", "vmap"])
@pytest.mark.parametrize("name", OPS)
@settings(max_examples=4)
@given(data=st.data())
def test_every_op_under_jit_is_bit_identical(name: str, mode: str, data: Any) -> None:
    f, primals, draw = draw_case(name, data)
    if mode == "op":
        _twice(jit(f), f, *primals)
    elif mode == "grad":
        if not primals:
            return
        u = like(draw, np.shape(f(*primals)))
        argnums = tuple(range(len(primals)))

        def weighted(*xs: Any) -> Any:
            return ops.sum(ops.mul(f(*xs), u))
        _twice(jit(grad(weighted, argnums=argnums)), grad(weighted, argnums=argnums), *primals)
    elif mode == "jacfwd":
        if not primals:
            return
        _twice(jit(jacfwd(f)), jacfwd(f), *primals)
    else:
        if not primals:
            return
        batch = np.stack([primals[0], primals[0]])
        rest = primals[1:]
        in_axes = (0,) + (None,) * len(rest)
        _twice(jit(vmap(f, in_axes=in_axes)), vmap(f, in_axes=in_axes), batch, *rest)


@pytest.mark.parametrize("name", OPS)
@settings(max_examples=3)
@given(data=st.data())
def test_every_op_reads_its_arguments_at_each_call(name: str, data: Any) -> None:
    """Every array argument of the op (indices and masks included) is an argument of the jitted
    function: a second call with other values must give the eager result for those values, so
    that no argument was frozen into the program while tracing."""
    op = registry[name]
    args, params = op.domain(HypothesisDraw(data))
    first: list[np.ndarray] = []
    # The arguments and parameters with every array (index arrays inside index tuples included)
    # replaced by its position among the jitted function's arguments.
    template = arrays_out((tuple(args), params), first)
    if not first:
        return

    def f(*arrays: Any) -> Any:
        call_args, call_params = arrays_in(template, arrays)
        return op(*call_args, **call_params)

    second = [other_values(a) for a in first]
    jitted = jit(f)
    with np.errstate(all="ignore"):
        identical(jitted(*first), f(*first))
        try:
            want = f(*second)
        except (ValueError, IndexError, np.linalg.LinAlgError):
            return  # the other values are outside the op's domain
        identical(jitted(*second), want)
    assert jitted.cache_info().hits == 1


@given(case=programs())
def test_random_programs_compiled_equal_eager(case: Any) -> None:
    run, inputs = case
    _twice(jit(run), run, *inputs)
    nums = tuple(range(len(inputs)))

    def total(*xs: Any) -> Any:
        return ops.sum(run(*xs))
    _twice(jit(grad(total, argnums=nums)), grad(total, argnums=nums), *inputs)
    _twice(jit(jacfwd(run, argnums=nums)), jacfwd(run, argnums=nums), *inputs)


# --- compositions -----------------------------------------------------------------------------

def loss(x: Any) -> Any:
    return ops.sum(ops.tanh(x) ** 3 + ops.sin(x) * x)


X = np.array([0.5, -1.0, 2.0])


@pytest.mark.parametrize("transform", [grad, value_and_grad, jacfwd, jacrev, hessian],
                         ids=lambda t: t.__name__)
def test_jit_of_each_transformation(transform: Any) -> None:
    _twice(jit(transform(loss)), transform(loss), X)


def test_transformations_of_jit_inline_it() -> None:
    batch = np.stack([X, 2 * X])
    identical(vmap(jit(loss))(batch), vmap(loss)(batch))
    identical(grad(jit(loss))(X), grad(loss)(X))
    identical(jacfwd(jit(loss))(X), jacfwd(loss)(X))
    identical(hessian(jit(loss))(X), hessian(loss)(X))
    inner = jit(loss)
    outer = jit(lambda x: inner(x) * 2)
    _twice(outer, lambda x: loss(x) * 2, X)
    assert inner.cache_info().misses == 0  # only the outermost jit traced and compiled
    _twice(jit(vmap(loss)), vmap(loss), batch)


def test_pytrees_in_and_out() -> None:
    def f(params: dict, xs: tuple) -> dict:
        a, b = xs
        return {"out": ops.sum(params["w"] * a) + b, "same": (params["w"], 3.0)}

    params, xs = {"w": np.array([1.0, 2.0])}, (np.array([3.0, 4.0]), 1.5)
    _twice(jit(f), f, params, xs)
    out = jit(f)(params, xs)
    assert isinstance(out, dict) and isinstance(out["same"], tuple) and out["same"][1] == 3.0


# --- the cache, numbers and static arguments --------------------------------------------------

def test_python_numbers_are_traced_and_keep_numpys_promotion() -> None:
    f = jit(lambda x, lr: x - lr * x)
    x = np.array([1.0, 2.0], np.float32)
    for lr in (0.1, 0.01, 0.5):
        identical(f(x, lr), x - lr * x)  # float32: the number stays weak, as without jit
    assert f.cache_info() == (2, 1, 1)  # one trace for every learning rate


def test_new_shapes_and_static_values_retrace() -> None:
    f = jit(lambda x, n: ops.sum(x) * n, static_argnums=1)
    f(np.ones(3), 2)
    f(np.ones(3), 2)
    f(np.ones(4), 2)
    f(np.ones(3), 5)
    assert f.cache_info() == (1, 3, 3)
    identical(f(np.ones(3), 5), np.float64(15.0))
    branch = jit(lambda x, *, mode: x * 2 if mode == "double" else x, static_argnames="mode")
    identical(branch(X, mode="double"), X * 2)
    identical(branch(X, mode="same"), X)
    with pytest.raises(TypeError, match="static argument must be hashable"):
        jit(lambda x, n: x, static_argnums=1)(X, [1, 2])


def test_a_retrace_on_every_call_is_reported_once() -> None:
    f = jit(lambda x: ops.sum(x))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for n in range(1, 8):
            f(np.ones(n))
    messages = [str(w.message) for w in caught if "traced a new program" in str(w.message)]
    assert len(messages) == 1
    assert "shapes or dtypes changed" in messages[0] and "(4,)" in messages[0]


def test_closed_over_arrays_are_read_at_call_time() -> None:
    w = np.array([1.0, 2.0])
    f = jit(lambda x: ops.sum(x * w))
    identical(f(X[:2]), np.sum(X[:2] * w))
    w[:] = [10.0, 20.0]  # changed in place: the next call sees it
    identical(f(X[:2]), np.sum(X[:2] * w))


def test_expressions_of_closed_over_values_alone_are_computed_at_call_time() -> None:
    """An op that reads only closed-over arrays (no argument) is a step of the program, so a
    change to the array in place is seen by the next call, forward and backward."""
    w = np.array([1.0, 2.0])
    scaled = jit(lambda x: x * ops.exp(ops.mul(w, 2)))
    gradient = jit(grad(lambda x: ops.sum(ops.sin(x) * ops.exp(w))))
    mask = jit(lambda x: ops.where(ops.greater(w, 1.5), x, 0.0))
    for value in ([1.0, 2.0], [0.5, -3.0]):
        w[:] = value
        identical(scaled(X[:2]), X[:2] * np.exp(w * 2))
        identical(gradient(X[:2]), np.cos(X[:2]) * np.exp(w))
        identical(mask(X[:2]), np.where(w > 1.5, X[:2], 0.0))
    assert scaled.cache_info().misses == 1 and mask.cache_info().hits == 1


def test_closed_over_indices_and_masks_are_read_at_call_time() -> None:
    index = np.array([2, 0])
    mask = np.array([True, False, True])
    taken = jit(lambda x: x[index] * 2)
    filled = jit(lambda x: ops.masked_fill(x, mask, -1.0))
    backward = jit(grad(lambda x: ops.sum(ops.sin(x[index]))))
    for i, m in (([2, 0], [True, False, True]), ([1, 1], [False, True, False])):
        index[:], mask[:] = i, m
        identical(taken(X), X[index] * 2)
        identical(filled(X), np.where(mask, -1.0, X))
        expected = np.zeros(3)
        np.add.at(expected, index, np.cos(X[index]))
        identical(backward(X), expected)


def test_a_jitted_function_of_closed_over_arrays_inside_jit_is_read_at_call_time() -> None:
    w = np.array([1.0, 2.0])
    inner = jit(lambda v: ops.sin(v) * 2)
    outer = jit(lambda x: x + inner(w))
    for value in ([1.0, 2.0], [3.0, -1.0]):
        w[:] = value
        identical(outer(X[:2]), X[:2] + np.sin(w) * 2)
    assert inner.cache_info().misses == 0  # inlined into outer's program


def test_a_parameter_transformed_alone_is_recomputed_and_taped_each_call() -> None:
    w = Tensor(np.array([0.5, -1.0]), requires_grad=True)
    f = jit(lambda x: (x * w.exp() + w.T.sum()).sum())
    x = Tensor(np.array([2.0, 3.0]))
    for value in ([0.5, -1.0], [0.0, 2.0]):
        with ops_no_grad():
            w.data[:] = value
        w.grad = None
        f(x).backward()  # a fresh tape each call: no graph freed by the previous backward
        identical(w.grad.data, x.data * np.exp(w.data) + 2.0)  # w.T.sum() is added twice


def test_a_view_of_a_closed_over_array_is_not_changed_in_place() -> None:
    w = np.zeros(3)

    def adds_into_view(x: Any) -> Any:
        v = ops.reshape(w, (3,))
        v += x
        return v

    with pytest.raises(TypeError, match=r"add in place on an argument of the jitted function or an "
                                        r"array it closes over"):
        jit(adds_into_view)(X[:3])
    identical(w, np.zeros(3))


def test_a_model_closed_over_records_its_tape_each_call() -> None:
    nn.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
    forward_pass = jit(lambda x: model(x))
    x = np.ones((2, 3), np.float32)
    forward_pass(x)
    out = forward_pass(x)
    identical(out.data, model(x).data)
    out.sum().backward()  # the parameters' tape was recorded by the compiled call
    assert model[0].weight.grad is not None
    with ops_no_grad():
        model[2].bias.data += 1.0
    identical(forward_pass(x).data, model(x).data)  # parameters are read at call time


def ops_no_grad() -> Any:
    from reverse import no_grad
    return no_grad()


# --- the program and the source ---------------------------------------------------------------

def test_the_listing_names_each_op_with_shapes_and_dtypes() -> None:
    program = make_program(lambda x, y: ops.sum(ops.sin(x) * y))(X, 3.0)
    text = str(program)
    assert text.splitlines()[0] == "{ lambda a:f64[3], b:float[] ."
    assert "c:f64[3] = sin a" in text and "d:f64[3] = mul c b" in text
    assert "e:f64[] = sum d axes=(-1,) keepdims=False" in text
    assert text.splitlines()[-1] == "  in (e) }"


def test_the_compiled_source_drops_dead_code_and_repeats() -> None:
    g = jit(grad(lambda x: ops.sum(ops.exp(x) * 3.0)))
    compiled = g.compiled(X)
    # The gradient needs exp(x) and not the sum: the forward pass's sum is dead code.
    assert "sum" not in compiled.source and compiled.source.count("exp(") == 1
    twice = jit(lambda x: ops.sin(x) + ops.sin(x))
    source = twice.compiled(X).source
    assert source.count("sin(") == 1  # one sin for the two
    assert "add(v1, v1, out=v1)" in source  # the sum goes into sin's array, dead after it
    identical(twice(X), np.sin(X) + np.sin(X))


def test_a_buffer_is_reused_only_when_nothing_else_can_see_it() -> None:
    def f(x: Any) -> Any:
        y = ops.exp(x)
        view = ops.reshape(y, (3, 1))  # shares y's memory
        z = y * 2.0  # y dies here, but its memory lives on in the view
        return view, z

    compiled = jit(f).compiled(X)
    assert "out=" not in compiled.source
    _twice(jit(f), f, X)

    def g(x: Any) -> Any:
        y = ops.exp(x)
        return y, y * 2.0  # y is returned: never written into

    assert "out=" not in jit(g).compiled(X).source
    _twice(jit(g), g, X)


# --- errors -----------------------------------------------------------------------------------

def test_python_control_flow_on_a_traced_value_names_the_line() -> None:
    def f(x: Any) -> Any:
        if ops.sum(x) > 0:  # the line the message names
            return x
        return -x

    with pytest.raises(TypeError, match=r"jit: the truth value .* at .*test_jit\.py:\d+.*where"):
        jit(f)(X)
    with pytest.raises(TypeError, match=r"float\(\) of a traced value.*static_argnums"):
        jit(lambda x: float(ops.sum(x)))(X)


def test_changing_an_argument_in_place_is_refused_and_a_local_may_change() -> None:
    def changes_argument(x: Any) -> Any:
        x += 1
        return x

    with pytest.raises(TypeError, match=r"add in place on an argument.*y = x \+ 1"):
        jit(changes_argument)(X.copy())

    def changes_local(x: Any) -> Any:
        y = x * 2
        y[0] = 5.0
        y += 1
        return y

    _twice(jit(changes_local), changes_local, X)


def test_random_draws_are_refused_under_jit() -> None:
    x = np.ones((2, 3), np.float32)
    with pytest.raises(RuntimeError, match=r"dropout inside a jitted function.*Draw them outside"):
        jit(lambda v: nn.functional.dropout(v, 0.5))(x)
    identical(jit(lambda v: nn.functional.dropout(v, 0.5, training=False))(x), x)


def test_unsupported_arguments_are_named() -> None:
    with pytest.raises(TypeError, match=r"argument of type str cannot be traced.*static"):
        jit(lambda s: s)("text")


def test_vjp_inside_jit() -> None:
    def pullback(x: Any, u: Any) -> Any:
        return vjp(lambda v: ops.sin(v) * v, x)[1](u)

    _twice(jit(pullback), pullback, X, np.array([1.0, 0.5, -2.0]))


def test_tensors_given_to_jit_are_inlined() -> None:
    t = Tensor(X, requires_grad=True)
    out = jit(loss)(t)
    out.backward()
    identical(t.grad.data, grad(loss)(X))


# --- training: functional_call --------------------------------------------------------------

def test_functional_call_swaps_parameters_and_restores_them() -> None:
    nn.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    x = np.ones((5, 3), np.float32)
    params = {name: p.data * 2 for name, p in model.named_parameters()}
    before = {name: p for name, p in model.named_parameters()}
    got = nn.functional_call(model, params, (x,))
    w1, b1, w2, b2 = (params[k] for k in ("0.weight", "0.bias", "2.weight", "2.bias"))
    want = np.maximum(x @ w1.T + b1, 0) @ w2.T + b2
    np.testing.assert_allclose(got.data, want, rtol=1e-6)
    assert {name: p for name, p in model.named_parameters()} == before  # restored
    one = nn.functional_call(model, {"2.bias": np.zeros(2, np.float32)}, x)  # the others kept
    np.testing.assert_allclose(one.data, model(x).data - model[2].bias.data, rtol=1e-6)
    with pytest.raises(ValueError, match=r"no parameter or buffer named '2\.weights'"):
        nn.functional_call(model, {"2.weights": w2}, (x,))
    with pytest.raises(ValueError, match=r"missing 0\.bias"):
        nn.functional_call(model, {"0.weight": w1}, (x,), strict=True)


def test_a_compiled_gradient_of_a_model_equals_backward() -> None:
    nn.manual_seed(1)
    model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3))
    x = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
    y = np.array([0, 2, 1, 2])

    def loss_of(values: dict, x: Any, y: Any) -> Any:
        return nn.cross_entropy(nn.functional_call(model, values, (x,)), y)

    step = jit(value_and_grad(loss_of))
    params = {name: p.data for name, p in model.named_parameters()}
    step(params, x, y)
    loss, grads = step(params, x, y)
    eager = nn.cross_entropy(model(Tensor(x)), y)
    eager.backward()
    identical(loss, eager.data)
    for name, p in model.named_parameters():
        identical(grads[name], p.grad.data)


def test_tensors_that_record_nothing_are_traced_with_pytorchs_habits() -> None:
    def f(x: Any) -> Any:
        return x.transpose(0, 1).sum(dim=0)  # PyTorch's transpose: swap two axes

    t = Tensor(np.arange(6.0).reshape(2, 3))
    jitted = jit(f)
    for _ in range(2):
        out = jitted(t)
        assert type(out) is Tensor and not out.requires_grad
        identical(out.data, f(t).data)
    assert jitted.cache_info() == (1, 1, 1)
    identical(jitted(Tensor(np.ones((2, 3)))).data, np.full(2, 3.0))


def test_embedding_indices_are_read_at_each_call() -> None:
    nn.manual_seed(0)
    table = nn.Embedding(5, 3)
    lookup = jit(lambda i: table(i))
    for idx in (np.array([0, 4, 4]), np.array([1, 2, 3])):
        identical(lookup(idx).data, table.weight.data[idx])


_R = np.random.default_rng(0)
_LOGITS = _R.standard_normal((4, 5))
_Q = _R.standard_normal((2, 3, 4))
# (function, first arguments, second arguments of the same shapes): masks, targets and indices
# that nn's functions take must be read at each call, never frozen while tracing.
PER_CALL = {
    "cross_entropy": (lambda logits, t: nn.functional.cross_entropy(logits, t),
                      (_LOGITS, np.array([0, 1, 2, 3])), (_LOGITS, np.array([4, 4, 0, 1]))),
    "cross_entropy ignore_index": (
        lambda logits, t: nn.functional.cross_entropy(logits, t, ignore_index=1),
        (_LOGITS, np.array([0, 1, 2, 3])), (_LOGITS, np.array([1, 1, 0, 1]))),
    "nll_loss": (lambda logits, t: nn.functional.nll_loss(logits, t),
                 (_LOGITS, np.array([0, 1, 2, 3])), (_LOGITS, np.array([4, 4, 0, 1]))),
    "masked_fill": (lambda x, m: ops.masked_fill(x, m, 0.0), (_LOGITS, _LOGITS > 0),
                    (_LOGITS, _LOGITS < 0)),
    "attention mask": (
        lambda q, m: nn.functional.scaled_dot_product_attention(q, q, q, attn_mask=m),
        (_Q, np.tril(np.ones((3, 3), bool))), (_Q, np.triu(np.ones((3, 3), bool)))),
    "attention float mask": (
        lambda q, m: nn.functional.scaled_dot_product_attention(q, q, q, attn_mask=m),
        (_Q, np.zeros((3, 3))), (_Q, _R.standard_normal((3, 3)))),
    "bce weight": (lambda x, t, w: nn.functional.binary_cross_entropy_with_logits(x, t, weight=w),
                   (_LOGITS, (_LOGITS > 0) * 1.0, np.ones((4, 5))),
                   (_LOGITS, (_LOGITS < 0) * 1.0, np.arange(20.0).reshape(4, 5))),
}


@pytest.mark.parametrize("name", list(PER_CALL))
def test_nn_functions_read_masks_targets_and_indices_at_each_call(name: str) -> None:
    fn, first, second = PER_CALL[name]
    jitted = jit(fn)
    identical(jitted(*first), fn(*first))
    identical(jitted(*second), fn(*second))
    assert jitted.cache_info().hits == 1
