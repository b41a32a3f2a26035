"""The Day 5 tool: the four ways of computing a Jacobian agree, and the table and plot appear."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from examples import compare_modes


@pytest.mark.parametrize("kind", ["mlp", "poly", "trig"])
def test_the_four_jacobians_agree_on_a_tiny_grid(kind: str, capsys) -> None:
    rows = compare_modes.main(["--n", "2", "5", "--m", "3", "--function", kind, "--repeats", "1",
                               "--no-demo"])
    assert [(r["n"], r["m"]) for r in rows] == [(2, 3), (5, 3)]
    for row in rows:
        jacs = [r[2] for r in row["results"].values()]
        assert jacs[0].shape == (row["m"], row["n"])
        for jac in jacs[1:]:
            np.testing.assert_allclose(jac, jacs[0], rtol=1e-12, atol=1e-14)
        assert row["diff"] < 1e-12
    printed = capsys.readouterr().out
    assert "vectorised reverse" in printed and "max |diff|" in printed


def test_the_scalar_demo_shows_both_modes(capsys, monkeypatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    compare_modes.scalar_demo()
    printed = capsys.readouterr().out
    want = np.sin(2) + 2 * np.cos(2) + 4
    assert f"{want:.6f} eps" in printed and "x.grad = " + f"{want:.6g}" in printed


def test_the_programs_demo_shows_the_jvp_beside_the_vjp(capsys) -> None:
    compare_modes.programs_demo()
    lines = capsys.readouterr().out.splitlines()
    assert "JVP: f'(x) v" in lines[1] and "VJP: u f'(x)" in lines[1]
    # Both programs compute sin and cos of the input and end in one output.
    body = "\n".join(lines[2:])
    assert body.count("= sin a") == 2 and body.count("= cos a") == 2
    assert body.count("in (") == 2


def test_the_plot_is_drawn_or_explained(tmp_path) -> None:
    path = tmp_path / "modes.png"
    argv = ["--n", "2", "--m", "2", "3", "--repeats", "1", "--no-demo", "--plot", str(path)]
    if importlib.util.find_spec("matplotlib") is None:
        with pytest.raises(SystemExit, match="needs matplotlib"):
            compare_modes.main(argv)
    else:
        compare_modes.main(argv)
        assert path.read_bytes()[:4] == b"\x89PNG"
