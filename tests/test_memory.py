"""Memory: graphs are freed by reference counting alone (no cycles, create_graph included), nodes
that receive no cotangent are freed too, a long training loop keeps flat memory, grad mode is
re-entrant and per thread, and detect_anomaly finds the first NaN."""
from __future__ import annotations

import gc
import sys
import threading
import tracemalloc
import weakref

import numpy as np
import pytest

import nn
from adcore import ops
from optim import SGD
from reverse import Function, Tensor, detect_anomaly, enable_grad, grad, is_grad_enabled, no_grad


@pytest.fixture
def no_collector():
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _graph(x: Tensor) -> tuple[Tensor, list]:
    """A small graph with views, an in-place change, a retained gradient; weak references to all."""
    h = x * 2
    v = h[1:]
    v.mul_(3.0)
    h.retain_grad()
    y = (ops.tanh(h) * h).sum() + ops.logsumexp(h.reshape(3, 1), axis=0).sum()
    return y, [weakref.ref(t) for t in (h, v, y)]


def test_graphs_are_freed_by_reference_counting(no_collector) -> None:
    x = Tensor(np.arange(3.0), requires_grad=True)
    y, refs = _graph(x)
    y.backward()
    del y
    assert all(r() is None for r in refs)


def test_create_graph_leaves_no_cycles(no_collector) -> None:
    x = Tensor(np.arange(3.0), requires_grad=True)
    y, refs = _graph(x)
    y.backward(create_graph=True)
    g = x.grad
    (g * g).sum().backward()  # second order through the recorded backward pass
    assert x.grad is not None
    g_ref = weakref.ref(g)
    del y, g
    x.grad = None
    assert all(r() is None for r in refs) and g_ref() is None


def test_functional_transformations_leave_no_cycles(no_collector) -> None:
    before = len(gc.get_objects())
    for _ in range(50):
        grad(lambda v: (ops.sin(v) * v).sum())(np.ones(3))
        grad(grad(lambda v: (v ** 3).sum()))(1.5)
    assert len(gc.get_objects()) - before < 200  # nothing accumulates run after run


def test_a_node_that_receives_no_cotangent_is_freed() -> None:
    class FirstOnly(Function):
        """x + y, with a gradient for x only (y's backward returns None)."""

        @staticmethod
        def forward(ctx, x, y):
            return x + y

        @staticmethod
        def backward(ctx, y_bar):
            return y_bar, None

    x = Tensor([1.0, 2.0], requires_grad=True)
    y = Tensor([3.0, 4.0], requires_grad=True)
    side = y.exp()  # reached by the graph walk, but no cotangent ever arrives
    node = side.grad_fn
    FirstOnly.apply(x, side).sum().backward()
    assert node.primals is None and node.out is None  # freed like the others
    assert y.grad is None and x.grad is not None


@pytest.mark.parametrize("retain", [False, True])
def test_a_long_training_loop_keeps_flat_memory(retain: bool) -> None:
    nn.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 3))
    opt = SGD(model.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(0)
    x = Tensor(rng.normal(size=(16, 20)).astype(np.float32))
    y = Tensor(rng.integers(0, 3, 16), dtype=np.int64)

    def step() -> None:
        loss = nn.cross_entropy(model(x), y)
        loss.backward(retain_graph=retain)
        opt.step()
        opt.zero_grad()

    for _ in range(500):
        step()
    tracemalloc.start()
    start = tracemalloc.get_traced_memory()[0]
    for _ in range(500):
        step()
    grown = tracemalloc.get_traced_memory()[0] - start
    tracemalloc.stop()
    assert grown < 64 * 1024, f"memory grew by {grown} bytes over 500 steps"


# --- grad mode ---------------------------------------------------------------------------------

def test_one_no_grad_instance_nested_and_as_a_recursive_decorator() -> None:
    ctx = no_grad()
    with ctx:
        with ctx:
            assert not is_grad_enabled()
        assert not is_grad_enabled()
        with enable_grad():
            assert is_grad_enabled()
        assert not is_grad_enabled()
    assert is_grad_enabled()

    @no_grad()
    def depth(n: int) -> int:
        assert not is_grad_enabled()
        return 0 if n == 0 else 1 + depth(n - 1)

    assert depth(5) == 5 and is_grad_enabled()


def test_grad_mode_is_per_thread() -> None:
    ctx = no_grad()
    seen = {}
    started, release = threading.Event(), threading.Event()

    def worker() -> None:
        seen["before"] = is_grad_enabled()
        with ctx:
            started.set()
            release.wait(5)
            seen["inside"] = is_grad_enabled()
        seen["after"] = is_grad_enabled()

    t = threading.Thread(target=worker)
    with ctx:
        t.start()
        started.wait(5)
        release.set()
        t.join(5)
        assert not is_grad_enabled()
    assert is_grad_enabled()
    assert seen == {"before": True, "inside": False, "after": True}


# --- detect_anomaly ----------------------------------------------------------------------------

def test_detect_anomaly_names_the_op_shapes_and_line() -> None:
    x = Tensor([0.0, 1.0], requires_grad=True)
    with detect_anomaly():
        y = (x * 2).sqrt()  # the line the error must point at
        line = sys._getframe().f_lineno - 1
        with pytest.raises(RuntimeError) as info:
            y.sum().backward()
    message = str(info.value)
    assert "the backward of sqrt (inputs of shape (2,)) produced inf" in message
    assert f'line {line}' in message and "y = (x * 2).sqrt()" in message


def test_detect_anomaly_points_at_nan_in_the_data() -> None:
    data = Tensor(np.array([[1.0, np.nan], [0.5, 2.0]]))
    w = Tensor(np.ones((2, 2)), requires_grad=True)
    with detect_anomaly(), pytest.raises(RuntimeError, match=r"the forward of matmul .*produced "
                                                             r"nan.*input 0 already held nan"):
        data @ w


def test_detect_anomaly_is_off_by_default_and_restores() -> None:
    with np.errstate(all="ignore"):
        x = Tensor([0.0], requires_grad=True)
        x.log().backward()  # no error: the library returns inf, as PyTorch does
        assert x.grad.data[0] == np.inf
        with detect_anomaly():
            pass
        x.log().backward()
