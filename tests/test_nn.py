"""nn: modules, layers, losses (against their formulas), init, data loading, saving and loading."""
from __future__ import annotations

import math
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import nn
import nn.functional as F
from adcore import gradcheck
from adcore.levels import raw
from nn import (
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    DataLoader,
    Dataset,
    Dropout,
    Flatten,
    Identity,
    Linear,
    LogSoftmax,
    Module,
    MSELoss,
    NLLLoss,
    Parameter,
    ReLU,
    Sequential,
    Sigmoid,
    Softmax,
    Tanh,
    TensorDataset,
)
from reverse import Tensor, grad, no_grad


def close(a, b, tol=1e-6):
    np.testing.assert_allclose(np.asarray(raw(a), dtype=np.float64),
                               np.asarray(raw(b), dtype=np.float64),
                               rtol=tol, atol=tol)


class Net(Module):
    """As the curriculum writes it: no super().__init__()."""

    def __init__(self):
        self.fc1 = Linear(4, 3)
        self.act = ReLU()
        self.fc2 = Linear(3, 2)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


# --- Module ----------------------------------------------------------------------------------

def test_registration_without_super_init() -> None:
    net = Net()
    assert [n for n, _ in net.named_parameters()] == ["fc1.weight", "fc1.bias", "fc2.weight",
                                                      "fc2.bias"]
    assert [n for n, _ in net.named_children()] == ["fc1", "act", "fc2"]
    assert len(list(net.modules())) == 4 and net.training
    assert all(isinstance(p, Parameter) and p.requires_grad and p.is_leaf
               for p in net.parameters())
    with pytest.raises(AttributeError, match="'Net' object has no attribute 'fc3'"):
        _ = net.fc3


def test_shared_parameters_are_listed_once() -> None:
    shared = Linear(3, 3)
    seq = Sequential(shared, ReLU(), shared)
    assert len(list(seq.parameters())) == 2
    seq(Tensor(np.ones((1, 3), np.float32))).sum().backward()
    assert shared.weight.grad is not None


def test_train_eval_zero_grad_apply_and_repr() -> None:
    net = Net()
    assert net.eval() is net and not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    net(Tensor(np.ones((2, 4), np.float32))).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "ReLU", "Linear", "Net"]
    assert repr(net) == ("Net(\n  (fc1): Linear(in_features=4, out_features=3, bias=True)\n"
                         "  (act): ReLU()\n"
                         "  (fc2): Linear(in_features=3, out_features=2, bias=True)\n)")


def test_assigning_a_tensor_to_a_parameter_slot_is_refused() -> None:
    layer = Linear(2, 2)
    with pytest.raises(TypeError, match=r"cannot assign 'Tensor' as parameter 'weight' "
                                        r"\(torch.nn.Parameter or None expected\)"):
        layer.weight = Tensor(np.zeros((2, 2)))
    layer.weight = Parameter(np.zeros((2, 2), np.float32))
    close(layer(Tensor(np.ones((1, 2), np.float32))), layer.bias.data[None])


def test_forward_returning_none_is_named() -> None:
    class Forgot(Module):
        def forward(self, x):
            x * 2

    with pytest.raises(TypeError, match=r"Forgot.forward returned None.*return"):
        Forgot()(Tensor([1.0]))


def test_state_dict_round_trip_and_checks_before_assigning() -> None:
    a, b = Net(), Net()
    b.load_state_dict(a.state_dict())
    for (name, p), q in zip(a.named_parameters(), b.parameters()):
        np.testing.assert_array_equal(p.data, q.data, err_msg=name)
    before = [p.data.copy() for p in b.parameters()]
    bad = a.state_dict()
    bad["fc2.bias"] = np.zeros(5, np.float32)
    bad["fc1.weight"] = np.zeros((3, 4), np.float64)
    with pytest.raises(ValueError, match=r"(?s)nothing was loaded.*fc1.weight.*dtype float64.*"
                                         r"fc2.bias.*shape \(5,\)"):
        b.load_state_dict(bad)
    for p, q in zip(before, b.parameters()):
        np.testing.assert_array_equal(p, q.data)  # unchanged
    partial = OrderedDict(list(a.state_dict().items())[:2])
    with pytest.raises(ValueError, match=r"missing key 'fc2.weight'"):
        b.load_state_dict(partial)
    result = b.load_state_dict(partial, strict=False)
    assert result.missing_keys == ["fc2.weight", "fc2.bias"]
    other = Sequential(Linear(4, 3))
    with pytest.raises(ValueError, match="unexpected key"):
        other.load_state_dict(a.state_dict())


def test_load_state_dict_keeps_the_parameter_objects() -> None:
    a, b = Net(), Net()
    ids = [id(p) for p in b.parameters()]
    b.load_state_dict(a.state_dict())
    assert [id(p) for p in b.parameters()] == ids


# --- layers ----------------------------------------------------------------------------------

def test_linear_shapes_and_pytorch_initialisation() -> None:
    nn.manual_seed(0)
    layer = Linear(400, 30)
    assert layer.weight.shape == (30, 400) and layer.bias.shape == (30,)
    bound = 1 / math.sqrt(400)
    for p in (layer.weight, layer.bias):
        assert p.dtype == np.float32 and np.all(np.abs(p.data) <= bound)
    assert abs(np.std(layer.weight.data) - bound / math.sqrt(3)) < 0.05 * bound
    x = Tensor(np.random.default_rng(1).normal(size=(5, 400)).astype(np.float32))
    close(layer(x), x.data @ layer.weight.data.T + layer.bias.data, tol=1e-5)
    assert Linear(3, 2, bias=False).bias is None


def test_activation_layers_and_flatten_identity() -> None:
    x = Tensor(np.array([[-1.0, 0.5, 2.0]]))
    close(ReLU()(x), [[0.0, 0.5, 2.0]])
    close(Sigmoid()(x), 1 / (1 + np.exp(-x.data)))
    close(Tanh()(x), np.tanh(x.data))
    close(Softmax(dim=1)(x), np.exp(x.data) / np.exp(x.data).sum())
    close(LogSoftmax(dim=1)(x), x.data - np.log(np.exp(x.data).sum()))
    assert Flatten()(Tensor(np.zeros((2, 3, 4)))).shape == (2, 12)
    assert Identity()(x) is x


def test_dropout_scales_in_training_and_is_off_in_eval() -> None:
    nn.manual_seed(3)
    drop = Dropout(0.25)
    x = Tensor(np.ones(10000), requires_grad=True)
    y = drop(x)
    kept = y.data != 0
    close(y.data[kept], 1 / 0.75)
    assert abs(kept.mean() - 0.75) < 0.02
    y.sum().backward()
    close(x.grad, kept / 0.75)
    drop.eval()
    assert drop(x) is x
    nn.manual_seed(3)
    np.testing.assert_array_equal(Dropout(0.25)(Tensor(np.ones(10000))).data, y.data)


def test_sequential_indexing_slicing_and_iteration() -> None:
    seq = Sequential(Linear(4, 8), ReLU(), Linear(8, 2))
    assert len(seq) == 3 and isinstance(seq[0], Linear) and isinstance(seq[-1], Linear)
    head = seq[:2]
    assert isinstance(head, Sequential) and len(head) == 2 and head[0] is seq[0]
    assert [type(m).__name__ for m in seq] == ["Linear", "ReLU", "Linear"]
    assert [n for n, _ in seq.named_children()] == ["0", "1", "2"]
    named = Sequential(OrderedDict([("hidden", Linear(4, 8)), ("out", Linear(8, 2))]))
    assert [n for n, _ in named.named_parameters()] == ["hidden.weight", "hidden.bias",
                                                        "out.weight", "out.bias"]
    assert seq(Tensor(np.ones((3, 4), np.float32))).shape == (3, 2)
    with pytest.raises(IndexError, match="index 5 is out of range for 3 modules"):
        seq[5]


# --- losses against their formulas ------------------------------------------------------------

LOGITS = np.array([[2.0, -1.0, 0.5], [0.1, 0.2, 3.0], [-2.0, 1.0, 1.0], [0.0, 0.0, 0.0]])
TARGET = np.array([0, 2, 1, 1])


def _log_softmax(x: np.ndarray) -> np.ndarray:
    z = x - x.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_matches_the_formula(reduction: str, smoothing: float) -> None:
    logp = _log_softmax(LOGITS)
    losses = -(1 - smoothing) * logp[np.arange(4), TARGET] - smoothing * logp.mean(axis=1)
    want = {"mean": losses.mean(), "sum": losses.sum(), "none": losses}[reduction]
    x = Tensor(LOGITS, requires_grad=True)
    loss = CrossEntropyLoss(reduction=reduction, label_smoothing=smoothing)(
        x, Tensor(TARGET, dtype=np.int64))
    close(loss, want, 1e-12)
    (loss * 1.0).sum().backward()
    q = np.full((4, 3), smoothing / 3)
    q[np.arange(4), TARGET] += 1 - smoothing
    g = np.exp(logp) - q
    close(x.grad, g / 4 if reduction == "mean" else g, 1e-12)
    assert gradcheck(lambda v: F.cross_entropy(v, TARGET, reduction=reduction,
                                               label_smoothing=smoothing), LOGITS)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_is_finite_and_exact_at_large_logits(dtype) -> None:
    x = Tensor(np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]], dtype), requires_grad=True)
    loss = F.cross_entropy(x, np.array([1, 2]), reduction="none")
    close(loss, [2e4, math.log(2)], 1e-6)
    loss.sum().backward()
    assert np.all(np.isfinite(x.grad.data)) and x.grad.dtype == dtype
    close(x.grad, [[1.0, -1.0, 0.0], [0.0, 0.5, -0.5]], 1e-6)


def test_cross_entropy_targets_are_checked() -> None:
    with pytest.raises(TypeError, match="target has dtype float32; it must hold integer class"):
        F.cross_entropy(Tensor(LOGITS), Tensor([0.0, 2.0, 1.0, 1.0]))
    with pytest.raises(IndexError, match="class index 3, but the logits have 3 classes"):
        F.cross_entropy(Tensor(LOGITS), np.array([0, 3, 1, 1]))
    with pytest.raises(ValueError, match=r"target has shape \(3,\)"):
        F.cross_entropy(Tensor(LOGITS), np.array([0, 1, 1]))


def test_nll_mse_and_bce_with_logits_match_their_formulas() -> None:
    logp = _log_softmax(LOGITS)
    close(NLLLoss()(Tensor(logp), Tensor(TARGET, dtype=np.int64)),
          -logp[np.arange(4), TARGET].mean(), 1e-12)
    close(NLLLoss(reduction="sum")(LogSoftmax(dim=1)(Tensor(LOGITS)), TARGET),
          -logp[np.arange(4), TARGET].sum(), 1e-12)
    a, b = np.array([1.0, 2.0, -1.0]), np.array([0.5, 2.0, 1.0])
    close(MSELoss()(Tensor(a), Tensor(b)), np.mean((a - b) ** 2))
    close(MSELoss(reduction="sum")(Tensor(a), Tensor(b)), np.sum((a - b) ** 2))
    z, y = np.array([-3.0, 0.0, 2.5, 1e4, -1e4]), np.array([0.0, 1.0, 1.0, 1.0, 0.0])
    sig = 1 / (1 + np.exp(-z[:3]))
    formula = -(y[:3] * np.log(sig) + (1 - y[:3]) * np.log(1 - sig))
    t = Tensor(z, requires_grad=True)
    loss = BCEWithLogitsLoss(reduction="none")(t, Tensor(y))
    close(loss.data[:3], formula, 1e-12)
    close(loss.data[3:], [0.0, 0.0])  # exact at +-1e4
    loss.sum().backward()
    close(t.grad, 1 / (1 + np.exp(-np.clip(z, -700, 700))) - y, 1e-12)
    with pytest.raises(ValueError, match=r"input has shape \(3,\) but target has shape \(2,\)"):
        F.mse_loss(Tensor(a), Tensor(b[:2]))


def test_functional_api_is_importable_as_the_curriculum_does_it() -> None:
    from nn import cross_entropy, relu
    assert relu is F.relu and cross_entropy is F.cross_entropy
    assert gradcheck(lambda w: F.linear(np.ones((2, 3)), w, np.arange(2.0)).sum(),
                     np.arange(6.0).reshape(2, 3))
    assert grad(lambda v: F.softplus(v).sum())(np.array([0.0])) == pytest.approx(0.5)


# --- init ------------------------------------------------------------------------------------

def test_init_functions_fill_in_place_and_stay_leaves() -> None:
    w = Parameter(np.empty((64, 32), np.float32))
    ident = id(w.data)
    nn.init.xavier_uniform_(w)
    bound = math.sqrt(6 / (64 + 32))
    assert id(w.data) == ident and w.is_leaf and w.requires_grad
    assert np.abs(w.data).max() <= bound and np.abs(w.data).max() > 0.9 * bound
    nn.init.kaiming_uniform_(w, nonlinearity="relu")
    assert np.abs(w.data).max() <= math.sqrt(6 / 32)
    nn.init.normal_(w, 1.0, 0.1)
    assert abs(w.data.mean() - 1.0) < 0.02 and abs(w.data.std() - 0.1) < 0.01
    nn.init.zeros_(w)
    assert not w.data.any()
    nn.init.ones_(w)
    assert np.all(w.data == 1)
    with pytest.raises(ValueError, match="at least 2 axes"):
        nn.init.xavier_uniform_(Parameter(np.zeros(3, np.float32)))


def test_manual_seed_makes_a_run_reproducible_bit_for_bit() -> None:
    def run() -> list:
        nn.manual_seed(42)
        model = Sequential(Linear(5, 4), Dropout(0.3), Linear(4, 2))
        data = TensorDataset(np.arange(40.0, dtype=np.float32).reshape(8, 5),
                             np.arange(8) % 2)
        out = []
        for x, y in DataLoader(data, batch_size=3, shuffle=True):
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            out.append(float(loss))
        return out + [p.grad.data.tobytes() for p in model.parameters()]

    assert run() == run()


# --- data ------------------------------------------------------------------------------------

def test_data_loader_batches_shuffles_and_drops_the_last() -> None:
    x = np.arange(10.0, dtype=np.float32)[:, None] * np.ones((1, 2), np.float32)
    data = TensorDataset(Tensor(x), np.arange(10))
    batches = list(DataLoader(data, batch_size=4))
    assert [len(b[0]) for b in batches] == [4, 4, 2] and len(DataLoader(data, batch_size=4)) == 3
    assert all(isinstance(t, Tensor) for b in batches for t in b)
    np.testing.assert_array_equal(batches[0][1].data, [0, 1, 2, 3])
    assert batches[0][1].dtype == np.int64
    assert [len(b[0]) for b in DataLoader(data, batch_size=4, drop_last=True)] == [4, 4]
    gen = np.random.default_rng(0)
    order = np.concatenate([b[1].data for b in DataLoader(data, 3, shuffle=True, generator=gen)])
    assert sorted(order) == list(range(10)) and list(order) != list(range(10))
    np.testing.assert_array_equal(order, np.random.default_rng(0).permutation(10))


def test_a_plain_dataset_is_stacked_item_by_item() -> None:
    class Squares(Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return np.array([i, i * i], np.float32), i

    (x, y), *_ = DataLoader(Squares(), batch_size=5)
    close(x, [[0, 0], [1, 1], [2, 4], [3, 9], [4, 16]])
    close(y, range(5))
    with pytest.raises(ValueError, match="same length along their first axis"):
        TensorDataset(np.zeros(3), np.zeros(4))


# --- save and load ---------------------------------------------------------------------------

def test_save_and_load_round_trip_nested_state(tmp_path) -> None:
    state = {"model": Net().state_dict(), "step": 7, "lr": 1e-3, "betas": (0.9, 0.999),
             "groups": [{"params": [0, 1], "nesterov": False, "name": None}],
             "by_index": {0: np.arange(3.0), 1: {"momentum": np.ones((2, 2), np.float32)}}}
    path = nn.save(state, tmp_path / "ckpt.npz")
    back = nn.load(path)
    assert back["step"] == 7 and back["lr"] == 1e-3 and back["betas"] == (0.9, 0.999)
    assert back["groups"] == [{"params": [0, 1], "nesterov": False, "name": None}]
    assert back["by_index"][1]["momentum"].dtype == np.float32
    for key, value in state["model"].items():
        np.testing.assert_array_equal(back["model"][key], value.data)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.npz"]  # no temporary left


def test_a_crash_while_saving_leaves_no_file_under_the_final_name(tmp_path, monkeypatch) -> None:
    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(KeyboardInterrupt):
        nn.save({"w": np.zeros(3)}, tmp_path / "model.npz")
    assert list(tmp_path.iterdir()) == []


def test_load_never_unpickles_and_names_corrupt_files(tmp_path) -> None:
    evil = tmp_path / "evil.npz"
    np.savez(evil, __structure__=np.array('{"array": "a0"}'), a0=np.array([object()]))
    with pytest.raises(ValueError, match=r"evil.npz is not a state dict written by nn.save"):
        nn.load(evil)
    good = nn.save({"w": np.arange(1000.0)}, tmp_path / "good.npz")
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[:300])
    with pytest.raises(ValueError, match=r"truncated.npz .*truncated or corrupt"):
        nn.load(truncated)
    with zipfile.ZipFile(tmp_path / "other.npz", "w") as z:
        z.writestr("x.npy", b"not an array")
    with pytest.raises(ValueError, match=r"other.npz"):
        nn.load(tmp_path / "other.npz")


def test_a_corrupt_checkpoint_leaves_the_model_unchanged(tmp_path) -> None:
    model = Net()
    before = [p.data.copy() for p in model.parameters()]
    state = {k: v.data for k, v in Net().state_dict().items()}
    state["fc1.weight"] = state["fc1.weight"][:, :2]
    with pytest.raises(ValueError, match=r"fc1.weight"):
        model.load_state_dict(nn.load(nn.save(state, tmp_path / "m.npz")))
    for p, q in zip(before, model.parameters()):
        np.testing.assert_array_equal(p, q.data)


def test_parameters_update_in_place_under_no_grad() -> None:
    layer = Linear(2, 2)
    w = layer.weight
    with no_grad():
        w -= 0.5 * Tensor(np.ones((2, 2), np.float32))
    assert layer.weight is w and w.is_leaf
