"""Module keeps one source of truth for what it registers."""
from __future__ import annotations

import numpy as np
import pytest

import nn
from nn import Linear, Module, Parameter, ReLU, Sequential
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
