"""Every example script runs to the end: each one checks its own claims with assert.

The training examples are left out here, each smoke-tested on its own: tests/test_value.py trains
micrograd_demo.py's MLP, tests/test_mnist_training.py runs mnist.py and cnn_mnist.py on a subset
of the real data, tests/test_compare_modes.py runs the Day 5 tool on a tiny grid,
tests/test_example_gpt.py and tests/test_example_char_lstm.py run a few steps of gpt.py and
char_lstm.py. Any new script in examples/ is picked up automatically.
"""
from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SCRIPTS = sorted(p for p in EXAMPLES.glob("*.py")
                 if p.name not in ("micrograd_demo.py", "mnist.py", "compare_modes.py",
                                   "cnn_mnist.py", "gpt.py", "char_lstm.py", "__init__.py"))


def test_the_curriculum_examples_are_present() -> None:
    names = {p.name for p in SCRIPTS}
    assert {"quickstart.py", "day01_05_foundations.py", "day06_12_scalar_engine.py",
            "day13_20_tensors.py", "day21_25_autograd.py"} <= names


@pytest.mark.parametrize("path", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_example_runs_to_the_end(path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "argv", [str(path)])  # scripts see their own argv, not pytest's
    runpy.run_path(str(path), run_name="__main__")  # a failed assert inside fails the test
    assert capsys.readouterr().out.strip(), f"{path.name} printed nothing"
