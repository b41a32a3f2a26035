"""A table of mistakes, tried as a new user would: each row runs its code and checks the message.

docs/errors.md is this table rendered with the messages the library gives today; a test fails when
the two differ. After changing a message, regenerate the page:

    python tests/test_mistakes.py > docs/errors.md
"""
from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest

DOC = Path(__file__).resolve().parent.parent / "docs" / "errors.md"

SETUP = """
import os
import numpy as np
import nn, optim
from adcore import ops
from forward import jacfwd, jvp
from nn import Linear, Module
from reverse import Tensor, detect_anomaly, grad, no_grad, vmap
"""


class Mistake(NamedTuple):
    title: str
    code: str
    error: str  # the exception's type
    mentions: tuple[str, ...]  # what the message must name: the op, the shapes, the fix
    why: str = ""  # a sentence for the page, when the mistake needs one


MISTAKES = [
    Mistake("Shapes that do not fit in a matrix product",
            "a = Tensor(np.ones((3, 4)))\nb = Tensor(np.ones((5, 6)))\na @ b",
            "ValueError", ("matmul", "(3, 4)", "(5, 6)", "4 != 5")),
    Mistake("Shapes that do not broadcast",
            "Tensor(np.ones((2, 3))) + Tensor(np.ones(4))",
            "ValueError", ("add", "(2, 3)", "(4,)", "reshape or expand")),
    Mistake("Float labels given to cross-entropy",
            "logits = Tensor(np.zeros((2, 3)))\nnn.cross_entropy(logits, Tensor([0.0, 1.0]))",
            "TypeError", ("cross_entropy", "float32", "integer class indices", "np.int64"),
            "`Tensor([0, 1])` is float32, like every Tensor made from Python numbers."),
    Mistake("A class index out of range",
            "nn.cross_entropy(Tensor(np.zeros((2, 3))), np.array([0, 3]))",
            "IndexError", ("cross_entropy", "3", "3 classes", "0 to 2")),
    Mistake("Calling backward twice",
            "x = Tensor([1.0], requires_grad=True)\ny = (x * x).sum()\ny.backward()\ny.backward()",
            "RuntimeError", ("already freed", "retain_graph=True")),
    Mistake("Backward through a part of the graph that an earlier backward freed",
            "x = Tensor([1.0], requires_grad=True)\nh = x.exp()\n(h * 2).sum().backward()\n"
            "(h * 3).sum().backward()",
            "RuntimeError", ("'exp'", "retain_graph=True")),
    Mistake("Backward on an output with more than one element",
            "x = Tensor([1.0, 2.0], requires_grad=True)\n(x * 2).backward()",
            "RuntimeError", ("shape (2,)", "y.sum().backward()", "gradient=")),
    Mistake("A Tensor of strings", "Tensor(['a', 'b'])",
            "TypeError", ("not numeric", "numbers")),
    Mistake("A ragged nested list", "Tensor([[1, 2], [3]])",
            "ValueError", ("rectangular",)),
    Mistake("A Python list of Tensors where a Tensor is expected",
            "a = Tensor([1.0], requires_grad=True)\nTensor([a, a * 2])",
            "TypeError", ("list", "gradient would be lost", "stack")),
    Mistake("A Module whose forward forgets to return",
            "class Net(Module):\n    def forward(self, x):\n        x * 2\n\nNet()(Tensor([1.0]))",
            "TypeError", ("Net.forward returned None", "return")),
    Mistake("Forgetting super().__init__() in a Module",
            "class Net(Module):\n    def __init__(self):\n        self.fc = Linear(2, 1)\n\n"
            "print(len(list(Net().parameters())))",
            "", (),
            "Not a mistake here: a Module creates its registries on first use, so the "
            "curriculum's MLP (which never calls it) works. The example prints 2."),
    Mistake("An optimizer given no parameters", "optim.SGD([], lr=0.1)",
            "ValueError", ("SGD", "empty parameter list", "model.parameters()")),
    Mistake("An optimizer given a generator that was already used",
            "m = Linear(2, 2)\nparams = m.parameters()\nprint(len(list(params)))\n"
            "optim.SGD(params, lr=0.1)",
            "ValueError", ("empty parameter list", "used once")),
    Mistake("A learning rate below 0", "optim.Adam(Linear(2, 2).parameters(), lr=-1e-3)",
            "ValueError", ("Adam", "lr=-0.001", ">= 0")),
    Mistake("A layer given to an optimizer instead of its parameters",
            "optim.SGD([Linear(2, 2)], lr=0.1)",
            "TypeError", ("Linear", "not a Parameter", "model.parameters()")),
    Mistake("NaN in the data (found with detect_anomaly)",
            "data = Tensor(np.array([[np.nan, 1.0]]))\nw = Tensor(np.ones((2, 2)), "
            "requires_grad=True)\nwith detect_anomaly():\n    out = data @ w",
            "RuntimeError", ("matmul", "nan", "input 0 already held nan", "line 4")),
    Mistake("Loading the state dict of another model",
            "Linear(3, 2).load_state_dict(Linear(2, 3).state_dict())",
            "ValueError", ("nothing was loaded", "(3, 2)", "(2, 3)")),
    Mistake("A state dict in float64 for a float32 model",
            "model = Linear(2, 2)\nstate = {k: v.numpy().astype(np.float64)\n"
            "         for k, v in model.state_dict().items()}\nmodel.load_state_dict(state)",
            "ValueError", ("float64", "float32", ".astype('float32')")),
    Mistake("A truncated checkpoint",
            "nn.save({'w': np.ones(100)}, 'ckpt.npz')\nwith open('ckpt.npz', 'rb') as f:\n"
            "    head = f.read(100)\nwith open('cut.npz', 'wb') as f:\n    f.write(head)\n"
            "nn.load('cut.npz')",
            "ValueError", ("cut.npz", "truncated or corrupt")),
    Mistake("grad of a function that returns a vector",
            "grad(lambda x: x * 2)(np.ones(3))",
            "ValueError", ("scalar", "shape (3,)", ".sum()", "jacrev")),
    Mistake("A string among a function's outputs under jacfwd",
            "jacfwd(lambda x: [x, 'label'])(np.ones(2))",
            "TypeError", ("jacfwd", "output[1]", "str")),
    Mistake("A value that escaped its transformation",
            "saved = []\n\ndef f(x):\n    saved.append(x)\n    return x.sum()\n\n"
            "grad(f)(np.ones(2))\nsaved[0] * 2",
            "RuntimeError", ("mul", "already returned", "escaped", "Return values")),
    Mistake("An in-place change of a leaf that requires grad",
            "w = Tensor([1.0], requires_grad=True)\nw += 1",
            "RuntimeError", ("add_", "leaf that requires grad", "no_grad")),
    Mistake("Changing a tensor that backward still needs",
            "x = Tensor([1.0, 2.0], requires_grad=True)\nh = x * 1\ny = (h * h).sum()\nh += 1\n"
            "y.backward()",
            "RuntimeError", ("mul", "shape (2,)", "version 1", "saved version 0", "clone()")),
    Mistake("Changing an expanded tensor in place",
            "x = Tensor([1.0]).expand(3)\nx += 1",
            "ValueError", ("read-only", "clone()")),
    Mistake("Integer tensors that require grad",
            "Tensor([1, 2], dtype=np.int64, requires_grad=True)",
            "TypeError", ("floating-point", "int64", "np.float32")),
    Mistake("Indexing with a float tensor", "Tensor([1.0, 2.0])[Tensor([0.0])]",
            "IndexError", ("getitem", "float32", "dtype=np.int64")),
    Mistake("backward on a result computed under no_grad",
            "x = Tensor([1.0], requires_grad=True)\nwith no_grad():\n    y = (x * 2).sum()\n"
            "y.backward()",
            "RuntimeError", ("does not require grad", "no_grad")),
    Mistake("jvp with bare primals", "jvp(ops.sin, 1.0, 1.0)",
            "TypeError", ("tuple or list", "jvp(f, (x,), (t,))")),
    Mistake("vmap over arguments with different batch sizes",
            "vmap(lambda a, b: a + b)(np.ones((3, 2)), np.ones((4, 2)))",
            "ValueError", ("argument 1", "4 examples", "3")),
    Mistake("A numpy function without a derivative rule",
            "np.convolve(Tensor([2.0, 1.0], requires_grad=True), [1.0, 1.0])",
            "TypeError", ("np.convolve", "np.asarray")),
    Mistake("float() of a value inside grad",
            "grad(lambda x: float(x) * 2)(1.0)",
            "TypeError", ("float()", "derivative would be lost")),
    Mistake("item() of a tensor with several elements", "Tensor([1.0, 2.0]).item()",
            "TypeError", ("item()", "one element", "(2,)")),
    Mistake("A reshape that changes the number of elements",
            "Tensor(np.ones(6)).reshape(4, 2)",
            "ValueError", ("reshape", "(6,)", "(4, 2)", "8 elements")),
    Mistake("Images given to Linear without flattening",
            "Linear(784, 10)(Tensor(np.ones((64, 28, 28), np.float32)))",
            "ValueError", ("linear", "(64, 28, 28)", "784", "reshape")),
    Mistake("An axis out of range", "Tensor(np.ones((2, 3))).sum(axis=2)",
            "ValueError", ("sum", "axis 2", "[-2, 1]")),
    Mistake("A typo in a layer's attribute", "Linear(2, 2).weights",
            "AttributeError", ("'Linear'", "'weights'")),
    Mistake("Predictions and targets of different shapes in MSE",
            "nn.mse_loss(Tensor(np.ones((4, 1))), Tensor(np.ones(4)))",
            "ValueError", ("mse_loss", "(4, 1)", "(4,)")),
    Mistake("Assigning a value of the wrong shape into a slice",
            "x = Tensor(np.zeros(3))\nx[0:2] = Tensor(np.ones(3))",
            "ValueError", ("x[index] = value", "(3,)", "(2,)")),
    Mistake("A fractional axis", "Tensor(np.ones((2, 3))).sum(axis=1.5)",
            "TypeError", ("sum", "axis", "1.5", "float", "axis=1")),
    Mistake("A negative layer size", "Linear(-1, 3)",
            "ValueError", ("Linear", "in_features", "-1", ">= 0", "Linear(784, 10)"),
            "`Linear(0, 3)` is allowed, as in PyTorch: a layer with no inputs outputs its bias."),
    Mistake("A dropout probability given as text", "nn.Dropout('0.5')",
            "TypeError", ("Dropout", "'0.5'", "str", "Dropout(0.5)")),
    Mistake("A Value of text", "from reverse import Value\nValue('a')",
            "TypeError", ("Value", "'a'", "str", "Value(2.0)")),
    Mistake("numpy scalars as options",
            "from nn import DataLoader, TensorDataset\n"
            "opt = optim.SGD(Linear(2, 2).parameters(), lr=np.float32(0.1))\n"
            "loader = DataLoader(TensorDataset(np.zeros((4, 2))), batch_size=np.int64(2))\n"
            "print(opt.param_groups[0]['lr'], len(loader))",
            "", ("0.1 2",),
            "Not a mistake: numpy's numbers are accepted wherever Python's are. "
            "The example prints the learning rate and the number of batches."),
    Mistake("A NaN learning rate or eps",
            "optim.Adam(Linear(2, 2).parameters(), eps=float('nan'))",
            "ValueError", ("Adam", "eps=nan", "NaN", ">= 0")),
    Mistake("A TensorDataset of strings", "nn.TensorDataset(['a', 'b'])",
            "TypeError", ("TensorDataset", "['a', 'b']", "not numeric", "np.unique")),
    Mistake("A gradient of strings given to backward",
            "x = Tensor([1.0, 2.0], requires_grad=True)\ny = x * 2\n"
            "y.backward(gradient=['a', 'b'])",
            "TypeError", ("backward", "['a', 'b']", "shape (2,)", "np.ones((2,))")),
    Mistake("A vmap axis the input does not have",
            "vmap(lambda x: x.sum(), in_axes=3)(np.ones((2, 3)))",
            "ValueError", ("vmap", "in_axes 3", "(2, 3)", "2 axes", "None")),
    Mistake("A list given to load_state_dict", "Linear(2, 2).load_state_dict([1, 2])",
            "TypeError", ("Linear.load_state_dict", "list", "[1, 2]", "state_dict()",
                          "nn.load")),
    Mistake("A self-referencing dict given to nn.save",
            "d = {'w': np.ones(2)}\nd['self'] = d\nnn.save(d, 'model.npz')",
            "ValueError", ("nn.save", "obj['self']", "contains itself", "without the cycle")),
    Mistake("Lists nested deeper than an array can be",
            "data = [1.0]\nfor _ in range(3000):\n    data = [data]\nTensor(data)",
            "ValueError", ("Tensor", "nested more than 64 deep", "64 axes")),
    Mistake("A list that contains itself",
            "data = [1.0]\ndata.append(data)\nTensor(data)",
            "ValueError", ("Tensor", "contains itself", "l.append(l)")),
    Mistake("Text given to a layer", "Linear(2, 1)('ab')",
            "TypeError", ("Linear(in_features=2", "str", "'ab'", "numbers")),
    Mistake("A float64 batch given to a float32 layer",
            "Linear(2, 1)(Tensor(np.ones((4, 2))))",
            "TypeError", ("Linear(in_features=2", "float64", "float32", "x.astype(np.float32)",
                          "layer.to(np.float64)"),
            "`np.ones` makes float64, and `Tensor(array)` keeps an array's dtype, as "
            "`torch.tensor` does; a layer's weights are float32. PyTorch refuses the pair too. "
            "The `linear` function itself promotes, as numpy does."),
    Mistake("Integer targets in a regression loss",
            "nn.mse_loss(Tensor([0.5, 1.5]), np.array([0, 1]))",
            "TypeError", ("mse_loss", "int64", "floating", "target.astype(np.float32)",
                          "cross_entropy")),
    Mistake("Changing a tensor that shares a read-only array in place",
            "a = np.ones(3)\na.flags.writeable = False\nt = Tensor.from_numpy(a)\nt.add_(1)",
            "ValueError", ("add_", "read-only", "from_numpy", "flags.writeable", "clone()")),
    Mistake("A file given as the MNIST folder",
            "from nn.mnist import load_mnist\nopen('mnist.npz', 'w').close()\n"
            "load_mnist('mnist.npz')",
            "NotADirectoryError", ("mnist.npz", "data_dir", "is a file, not a folder")),
    Mistake("Updating p.data with the gradient, as in PyTorch",
            "model = Linear(2, 1)\nmodel(Tensor([[1.0, 2.0]])).sum().backward()\n"
            "before = model.weight.data.copy()\n"
            "for p in model.parameters():\n    p.data -= 0.1 * p.grad\n"
            "print(np.allclose(model.weight.data, before - 0.1 * np.array([[1.0, 2.0]])))",
            "", ("True",),
            "Not a mistake: `p.data` is the parameter's array, and `array -= tensor` updates it "
            "in place, off the tape, as PyTorch's `p.data -= lr * p.grad` does."),
    Mistake("Writing a tensor that requires grad into a numpy array",
            "w = Tensor([1.0, 2.0], requires_grad=True)\na = np.zeros(2)\na += w * 2",
            "TypeError", ("np.add", "array += Tensor", "plain array", "detach()")),
    Mistake("Assigning a Tensor to p.data",
            "layer = Linear(2, 2)\nlayer.weight.data = Tensor(np.ones((2, 2)))\n"
            "layer(Tensor([[1.0, 2.0]]))",
            "TypeError", ("the input is float32 but the layer's weight is float64",),
            "As in PyTorch, `p.data = t` makes the parameter hold t's values in t's dtype; "
            "`Tensor(np.ones((2, 2)))` is float64, so the float32 batch is then refused by name. "
            "Anything but a Tensor or an array is refused (`p.data = [1, 2]`)."),
    Mistake("A script of your own named like one of the library's packages",
            "open('forward.py', 'w').write('print(1)')  # your file, next to your script\n"
            "import subprocess, sys\n"
            "run = subprocess.run([sys.executable, '-c', 'import reverse'], capture_output=True,\n"
            "                     text=True)\n"
            "for line in run.stderr.strip().splitlines()[-3:]:\n"
            "    print(line.replace(os.getcwd(), '.'))",
            "", ("ImportError", "forward.py shadows the library's package 'forward'"),
            "Python looks in the script's folder first, so a `forward.py` (or `nn.py`, "
            "`reverse.py`, `optim.py`) of your own hides the library's package; the library "
            "names the file on import instead of failing later with \"'forward' is not a "
            "package\". Rename the file. (The example runs Python in a subprocess, from the "
            "folder that holds the file.)"),
    Mistake("gradcheck called with PyTorch's signature",
            "from adcore import gradcheck\nx = np.array([1.0, 2.0])\n"
            "print(gradcheck(lambda x: (x * x).sum(), (x,)))",
            "", ("True",),
            "Not a mistake: `gradcheck(f, (x, y))`, with the inputs in one tuple as in "
            "PyTorch, means `gradcheck(f, x, y)`."),
]


def run(mistake: Mistake) -> str:
    """What running the mistake gives: 'ErrorType: message', or what it printed."""
    namespace: dict = {}
    exec(SETUP, namespace)
    with tempfile.TemporaryDirectory() as tmp, contextlib.chdir(tmp):
        code = compile(mistake.code, "<your code>", "exec")
        try:
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                exec(code, namespace)
        except Exception as exc:
            return _only_your_code(f"{type(exc).__name__}: {exc}")
    return out.getvalue().strip()


def _only_your_code(message: str) -> str:
    """The message without the stack frames of this test harness (detect_anomaly lists the
    frames that recorded the op; here, the example's own are the ones to show)."""
    lines, keep = message.splitlines(), []
    skip_source = False
    for line in lines:
        if line.startswith('  File "'):
            skip_source = not line.startswith('  File "<your code>"')
            if skip_source:
                continue
        elif skip_source and line.startswith("    "):
            continue
        keep.append(line)
    return "\n".join(keep)


@pytest.mark.parametrize("mistake", MISTAKES, ids=[m.title for m in MISTAKES])
def test_each_mistake_gives_a_clear_message(mistake: Mistake) -> None:
    message = run(mistake)
    if mistake.error:
        assert message.startswith(mistake.error + ": "), message
        assert "Traceback" not in message and "numpy/" not in message
    for fragment in mistake.mentions:
        assert fragment in message, f"{fragment!r} missing from: {message}"


def render() -> str:
    lines = [
        "# Mistakes and the messages they give",
        "",
        "Things a new user is likely to try, run as written, with the message the library gives. "
        "Every message names what was passed and says how to fix it. Each row is a test "
        "(`tests/test_mistakes.py`), which regenerates this page: "
        "`python tests/test_mistakes.py > docs/errors.md`.",
        "",
        "Three numerical habits worth knowing first:",
        "",
        "- **inf and nan are silent, as in PyTorch.** `log(0)`, `1 / 0` and overflow give `-inf`, "
        "`inf` and `nan` without numpy's warnings. To find where the first NaN or inf appears, "
        "wrap the code in `reverse.detect_anomaly()` (row 17).",
        "- **The double-where fix.** `where(x > 0, sqrt(x), 0)` has a NaN gradient at x = 0, as in "
        "PyTorch and JAX: the unselected branch gets a zero cotangent, but sqrt's derivative there "
        "is infinite, and 0 * inf is nan. Keep the unselected branch's input away from the bad "
        "point: `where(x > 0, sqrt(where(x > 0, x, 1.0)), 0)` has gradient 0 at x = 0 "
        "(tests/test_numerics.py).",
        "- **At kinks, ties, NaN and inf the derivative is PyTorch's**, in both modes and in the "
        "scalar `Value`: relu'(0) = 0 and relu'(nan) = 1 (the NaN passes); abs'(0) = abs'(nan) = "
        "0; maximum and minimum split ties 0.5/0.5 and give 1 to both operands where either is "
        "NaN; fmax and fmin give all of it to the operand they return (ties to the first); a full "
        "max over NaN entries shares the gradient among them, as `x.max()` does; logaddexp'(inf, "
        "y) = 1. Known differences: copysign at an infinite x (sign(x) sign(y) here, NaN in "
        "PyTorch) and arctan2 at (0, 0) (NaN here, 0 in PyTorch) "
        "(tests/test_numerics.py, checked against PyTorch when it is installed).",
        "",
    ]
    for i, mistake in enumerate(MISTAKES, 1):
        lines += [f"## {i}. {mistake.title}", ""]
        if mistake.why:
            lines += [mistake.why, ""]
        lines += ["```python", mistake.code, "```", "", "```",
                  textwrap.fill(run(mistake), 100, break_long_words=False,
                                break_on_hyphens=False, replace_whitespace=False), "```", ""]
    return "\n".join(lines)


def test_the_page_is_current() -> None:
    assert len(MISTAKES) >= 25
    assert DOC.read_text() == render(), ("docs/errors.md is out of date: run "
                                         "python tests/test_mistakes.py > docs/errors.md")


# --- the habits behind some rows, checked on values --------------------------------------------


def test_a_layer_without_inputs_outputs_its_bias() -> None:
    from nn import Linear

    layer = Linear(0, 3)  # PyTorch allows it
    out = layer(np.zeros((2, 0), np.float32))
    np.testing.assert_array_equal(out.data, np.broadcast_to(layer.bias.data, (2, 3)))


def test_p_data_takes_a_tensors_array_and_refuses_other_values() -> None:
    from nn import Linear
    from reverse import Tensor as T

    layer = Linear(2, 2)
    new = T(np.full((2, 2), 3.0, np.float32))
    layer.weight.data = new
    assert layer.weight.data is new.data  # shared, as PyTorch's p.data = t
    assert layer.weight.requires_grad and type(layer.weight).__name__ == "Parameter"
    out = layer(T([[1.0, 1.0]]))
    np.testing.assert_allclose(out.data, 6.0 + layer.bias.data[None])
    for bad in ([1.0, 2.0], "w", None):
        try:
            layer.weight.data = bad
        except TypeError as exc:
            assert "Parameter.data" in str(exc) and "Tensor(value" in str(exc)
        else:
            raise AssertionError(f"p.data = {bad!r} was accepted")


def test_array_op_equals_tensor_updates_the_array_off_the_tape() -> None:
    from reverse import Tensor as T

    w = T([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    before = w.data.copy()
    w.data -= 0.5 * w.grad  # w.grad does not require grad: its values are written
    np.testing.assert_allclose(w.data, before - 0.5 * 2 * before)
    a = np.ones(2, np.float32)
    a *= T([2.0, 3.0])
    np.testing.assert_array_equal(a, [2.0, 3.0])
    got = np.add(np.ones(2), T([1.0, 1.0]), out=np.empty(2))  # out= given explicitly
    np.testing.assert_array_equal(got, [2.0, 2.0])


def test_gradcheck_takes_pytorchs_signature() -> None:
    from adcore import gradcheck, ops
    from reverse import Tensor as T

    x, y = np.array([0.5, 1.0]), np.array([2.0, -1.0])
    assert gradcheck(lambda a, b: ops.sin(a) * b, (x, y))  # two inputs in one tuple
    assert gradcheck(lambda a: (a * a).sum(), (T(x, requires_grad=True),))


def test_vmap_axes_are_checked_and_numpy_ints_accepted() -> None:
    from reverse import vmap

    x = np.ones((2, 3))
    with pytest.raises(ValueError, match=r"out_axes 3 for an output of 1 axes per example.*"
                                         r"0 to 1, or -1 to -2"):
        vmap(lambda v: v * 2, out_axes=3)(x)
    with pytest.raises(ValueError, match=r"out_axes 2 for an output of 0 axes per example"):
        vmap(lambda v: 1.0, out_axes=2)(x)
    with pytest.raises(TypeError, match=r"in_axes\[0\] holds 'a' \(str\); an axis is an int"):
        vmap(lambda v: v, in_axes="a")(x)
    with pytest.raises(TypeError, match=r"holds 1.0 \(float\)"):
        vmap(lambda v: v, in_axes=1.0)(x)
    np.testing.assert_array_equal(vmap(lambda v: v * 2, in_axes=np.int64(1),
                                       out_axes=np.int64(-1))(np.arange(6.0).reshape(2, 3)),
                                  2 * np.arange(6.0).reshape(2, 3))


@pytest.mark.parametrize("name", ["forward", "nn", "optim", "reverse"])
def test_a_users_file_shadowing_a_package_is_named(tmp_path: Path, name: str) -> None:
    import subprocess

    (tmp_path / f"{name}.py").write_text("x = 1\n")
    script = tmp_path / "train.py"
    script.write_text("import nn, optim, reverse\n")
    root = str(DOC.parent.parent)
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         cwd=tmp_path, env=env, timeout=120)
    assert run.returncode == 1
    last = run.stderr.strip().splitlines()
    message = "\n".join(last[-3:])
    assert "ImportError: the library's packages are hidden by files of the same name" in message
    assert f"{tmp_path / name}.py shadows the library's package '{name}'" in message
    assert f"my_{name}.py" in message
    (tmp_path / f"{name}.py").unlink()
    assert subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                          timeout=120).returncode == 0


if __name__ == "__main__":
    sys.path.insert(0, str(DOC.parent.parent))
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    print(render(), end="")
