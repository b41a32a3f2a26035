"""Module keeps one source of truth for what it registers; randomness in nn is explicit."""
from __future__ import annotations

import math

import numpy as np
import pytest

import nn
import nn.functional as F
from nn import Dropout, Linear, Module, Parameter, ReLU, Sequential
from reverse import Tensor


class Net(Module):
    def __init__(self):
        self.fc1 = Linear(4, 3)
        self.fc2 = Linear(3, 2)

    def forward(self, x):
        return self.fc2(self.fc1(x).relu())


def param(shape, value) -> Parameter:
    return Parameter(np.full(shape, value, np.float32))


# --- one source of truth -----------------------------------------------------------------------

def test_nothing_registered_sits_in_the_instance_dict() -> None:
    net = Net()
    for module in net.modules():
        registered = {*module._parameters, *module._buffers, *module._modules}
        assert not registered & set(vars(module)), type(module).__name__
    assert net.fc1 is net._modules["fc1"] and net.fc1.weight is net.fc1._parameters["weight"]


def test_a_parameter_replaced_in_the_registry_is_what_the_attribute_and_forward_see() -> None:
    layer = Linear(2, 3)
    new = param((3, 2), 2.0)
    layer._parameters["weight"] = new
    assert layer.weight is new
    assert next(layer.parameters()) is new
    x = np.array([[1.0, -0.5]], np.float32)
    np.testing.assert_allclose(layer(Tensor(x)).data, x @ np.full((2, 3), 2.0) + layer.bias.data)
    np.testing.assert_array_equal(layer.state_dict()["weight"].data, np.full((3, 2), 2.0))


def test_a_submodule_replaced_in_the_registry_is_what_the_attribute_sees() -> None:
    net = Net()
    other = Linear(4, 3)
    net._modules["fc1"] = other
    assert net.fc1 is other
    assert next(net.parameters()) is other.weight


def test_assigning_a_parameter_registers_it_and_none_empties_the_slot() -> None:
    m = Module()
    w = param((2,), 1.0)
    m.w = w
    assert m._parameters["w"] is w and m.w is w and "w" not in vars(m)
    m.w = None
    assert m.w is None and "w" in m._parameters and m._parameters["w"] is None
    assert list(m.parameters()) == [] and list(m.state_dict()) == []
    m.w = w  # a slot emptied by None takes a Parameter again
    assert list(m.parameters()) == [w]


def test_assigning_a_plain_tensor_to_a_parameter_name_is_a_type_error() -> None:
    layer = Linear(2, 2)
    before = layer.weight
    with pytest.raises(TypeError, match=r"cannot assign 'Tensor' as parameter 'weight' "
                                        r"\(torch.nn.Parameter or None expected\)"):
        layer.weight = Tensor(np.zeros((2, 2), np.float32))
    assert layer.weight is before and layer._parameters["weight"] is before


def test_deleting_a_parameter_or_a_submodule_removes_it() -> None:
    net = Net()
    del net.fc1.bias
    assert "bias" not in net.fc1._parameters
    with pytest.raises(AttributeError, match="'Linear' object has no attribute 'bias'"):
        _ = net.fc1.bias
    del net.fc2
    assert [n for n, _ in net.named_parameters()] == ["fc1.weight"]
    with pytest.raises(AttributeError, match="'Net' object has no attribute 'fc2'"):
        _ = net.fc2


def test_a_plain_attribute_becomes_a_parameter_and_back_to_a_module_cleanly() -> None:
    m = Module()
    m.x = 3
    m.x = param((1,), 0.5)
    assert "x" not in vars(m) and m.x is m._parameters["x"]
    child = ReLU()
    del m.x
    m.x = child
    assert m._modules["x"] is child and "x" not in m._parameters and m.x is child


def test_state_dict_load_and_save_see_registry_replacements(tmp_path) -> None:
    net = Net()
    net.fc2._parameters["bias"] = param((2,), 7.0)
    path = nn.save(net.state_dict(), tmp_path / "net.npz")
    back = Net()
    back.load_state_dict(nn.load(path))
    np.testing.assert_array_equal(back.fc2.bias.data, [7.0, 7.0])
    np.testing.assert_array_equal(back.fc1.weight.data, net.fc1.weight.data)


def test_register_checks_names_as_pytorch_does() -> None:
    m = Module()
    with pytest.raises(KeyError, match="contain no"):
        m.register_parameter("a.b", None)
    m.plain = 1
    with pytest.raises(KeyError, match="attribute 'plain' already exists"):
        m.register_parameter("plain", param((1,), 0.0))
    with pytest.raises(TypeError, match="cannot assign 'ndarray' object to buffer 'running'"):
        m.register_buffer("running", np.zeros(2))


# --- explicit randomness -----------------------------------------------------------------------

def test_dropout_mask_is_the_generators_draw() -> None:
    x = Tensor(np.ones((50, 40), np.float32), requires_grad=True)
    y = F.dropout(x, 0.3, training=True, generator=np.random.default_rng(7))
    keep = np.random.default_rng(7).random((50, 40)) >= 0.3
    np.testing.assert_array_equal(y.data, keep / np.float32(0.7))
    assert y.dtype == np.float32


def test_dropout_with_generators_seeded_alike_gives_the_same_mask() -> None:
    x = Tensor(np.arange(1.0, 1001.0))
    a = F.dropout(x, 0.5, True, np.random.default_rng(123))
    b = F.dropout(x, 0.5, True, np.random.default_rng(123))
    c = F.dropout(x, 0.5, True, np.random.default_rng(124))
    np.testing.assert_array_equal(a.data, b.data)
    assert (a.data != c.data).any()
    g = np.random.default_rng(5)
    first, second = F.dropout(x, 0.5, generator=g), F.dropout(x, 0.5, generator=g)
    assert (first.data != second.data).any()  # the generator advances, as a stream


def test_an_explicit_generator_leaves_the_default_one_alone() -> None:
    nn.manual_seed(11)
    F.dropout(Tensor(np.ones(100)), 0.5, generator=np.random.default_rng(0))
    nn.init.uniform_(Parameter(np.empty(10, np.float32)), generator=np.random.default_rng(0))
    assert float(nn.rng.generator().random()) == float(np.random.default_rng(11).random())


def test_dropout_default_path_follows_manual_seed() -> None:
    x = Tensor(np.ones(2000))
    nn.manual_seed(3)
    a = F.dropout(x, 0.25)
    nn.manual_seed(3)
    b = Dropout(0.25)(x)
    np.testing.assert_array_equal(a.data, b.data)
    c = F.dropout(x, 0.25, generator=np.random.default_rng(3))
    np.testing.assert_array_equal(a.data, c.data)


def test_manual_seed_reseeds_the_default_generator_in_place() -> None:
    g = nn.rng.generator()
    assert nn.manual_seed(9) is g
    np.testing.assert_array_equal(g.random(5), np.random.default_rng(9).random(5))


def test_dropout_gradient_is_mask_over_keep_probability() -> None:
    p = 0.4
    x = Tensor(np.random.default_rng(1).normal(size=(30, 20)) + 5.0, requires_grad=True)
    y = F.dropout(x, p, generator=np.random.default_rng(2))
    mask = y.data != 0  # x is far from 0, so a zero in y is a dropped element
    np.testing.assert_allclose(y.data[mask], x.data[mask] / (1 - p), rtol=1e-12)
    (y * Tensor(np.arange(600.0).reshape(30, 20))).sum().backward()
    np.testing.assert_allclose(x.grad.data, np.arange(600.0).reshape(30, 20) * mask / (1 - p),
                               rtol=1e-12)


def test_dropout_layer_takes_a_generator_and_is_off_in_eval() -> None:
    x = Tensor(np.ones(500, np.float32))
    a = Sequential(Dropout(0.5, generator=np.random.default_rng(4)))(x)
    b = Dropout(0.5, generator=np.random.default_rng(4))(x)
    np.testing.assert_array_equal(a.data, b.data)
    np.testing.assert_array_equal(a.data, (np.random.default_rng(4).random(500) >= 0.5) * 2.0)
    layer = Dropout(0.5, generator=np.random.default_rng(4)).eval()
    assert layer(x) is x


def test_a_generator_that_is_not_a_numpy_generator_is_refused() -> None:
    with pytest.raises(TypeError, match=r"dropout: generator must be a numpy\.random\.Generator"):
        F.dropout(Tensor(np.ones(3)), 0.5, True, False)  # PyTorch's inplace=False, positionally
    with pytest.raises(TypeError, match=r"init\.uniform_: generator must be"):
        nn.init.uniform_(Parameter(np.empty(3, np.float32)), generator=0)


@pytest.mark.parametrize("fn, kwargs, draw", [
    (nn.init.uniform_, {"a": -2.0, "b": 3.0}, lambda g, s: g.uniform(-2.0, 3.0, s)),
    (nn.init.normal_, {"mean": 1.0, "std": 0.5}, lambda g, s: g.normal(1.0, 0.5, s)),
    (nn.init.xavier_uniform_, {"gain": 2.0},
     lambda g, s: g.uniform(-2.0 * math.sqrt(6 / 11), 2.0 * math.sqrt(6 / 11), s)),
    (nn.init.xavier_normal_, {}, lambda g, s: g.normal(0.0, math.sqrt(2 / 11), s)),
    (nn.init.kaiming_uniform_, {"nonlinearity": "relu"},
     lambda g, s: g.uniform(-math.sqrt(6 / 5), math.sqrt(6 / 5), s)),
    (nn.init.kaiming_normal_, {"mode": "fan_out", "nonlinearity": "relu"},
     lambda g, s: g.normal(0.0, math.sqrt(2 / 6), s)),
])
def test_init_functions_draw_from_the_given_generator(fn, kwargs, draw) -> None:
    shape = (6, 5)  # fan_in 5, fan_out 6
    w = Parameter(np.empty(shape, np.float32))
    fn(w, **kwargs, generator=np.random.default_rng(21))
    np.testing.assert_array_equal(w.data, draw(np.random.default_rng(21), shape).astype(np.float32))
    again = Parameter(np.empty(shape, np.float32))
    fn(again, **kwargs, generator=np.random.default_rng(21))
    np.testing.assert_array_equal(again.data, w.data)
