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

import pytest

DOC = Path(__file__).resolve().parent.parent / "docs" / "errors.md"

SETUP = """
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
            "Linear(784, 10)(Tensor(np.ones((64, 28, 28))))",
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
        "Two numerical habits worth knowing first:",
        "",
        "- **inf and nan are silent, as in PyTorch.** `log(0)`, `1 / 0` and overflow give `-inf`, "
        "`inf` and `nan` without numpy's warnings. To find where the first NaN or inf appears, "
        "wrap the code in `reverse.detect_anomaly()` (row 17).",
        "- **The double-where fix.** `where(x > 0, sqrt(x), 0)` has a NaN gradient at x = 0, as in "
        "PyTorch and JAX: the unselected branch gets a zero cotangent, but sqrt's derivative there "
        "is infinite, and 0 * inf is nan. Keep the unselected branch's input away from the bad "
        "point: `where(x > 0, sqrt(where(x > 0, x, 1.0)), 0)` has gradient 0 at x = 0 "
        "(tests/test_numerics.py).",
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


if __name__ == "__main__":
    sys.path.insert(0, str(DOC.parent.parent))
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    print(render(), end="")
