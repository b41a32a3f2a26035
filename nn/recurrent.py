"""Recurrent layers: RNN, LSTM, GRU and their single-step cells, as PyTorch 2.x defines them.

Each step is a handful of registry ops (linear, split, sigmoid, tanh, mul, add); the time loop is
a Python loop over the steps, whose hidden states are joined with ``ops.stack``. The input's part
of every gate is computed for all steps at once, with one matmul, before the loop. No derivative is
written here: reverse mode, forward mode and higher orders all go through the ops.

Gates (W_i* act on the input x, W_h* on the previous hidden state h, each with its bias):

- RNN:  h' = act(W_ih x + b_ih + W_hh h + b_hh), act = tanh or relu.
- LSTM: i, f, g, o = W_ih x + b_ih + W_hh h + b_hh, cut into four (PyTorch's order);
  c' = sigmoid(f) c + sigmoid(i) tanh(g);  h' = sigmoid(o) tanh(c')  (then W_hr h' with proj_size).
- GRU:  r = sigmoid(W_ir x + b_ir + W_hr h + b_hr),  z = sigmoid(W_iz x + b_iz + W_hz h + b_hz),
  n = tanh(W_in x + b_in + r (W_hn h + b_hn)),  h' = (1 - z) n + z h.

>>> import numpy as np
>>> lstm = LSTM(3, 4, num_layers=2, dtype=np.float64)
>>> output, (h_n, c_n) = lstm(np.zeros((5, 2, 3)))  # (L, N, H_in)
>>> output.shape, h_n.shape, c_n.shape
((5, 2, 4), (2, 2, 4), (2, 2, 4))
"""
from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from adcore import ops
from adcore.shapes import dtype_of, shape_of
from nn import functional as F
from nn import init, rng
from nn.module import Module, Parameter

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}

# --- one step, from the input's part of the gates gi = x W_ih^T + b_ih --------------------------


def _rnn_step(gi: Any, h: Any, w_hh: Any, b_hh: Any, act: Callable[[Any], Any]) -> Any:
    """h' = act(gi + W_hh h + b_hh)."""
    return act(ops.add(gi, ops.linear(h, w_hh, b_hh)))


def _lstm_step(gi: Any, h: Any, c: Any, w_hh: Any, b_hh: Any,
               w_hr: Any = None) -> tuple[Any, Any]:
    """c' = sigmoid(f) c + sigmoid(i) tanh(g), h' = sigmoid(o) tanh(c') (projected by W_hr when
    given), with i, f, g, o = gi + W_hh h + b_hh."""
    i, f, g, o = ops.split(ops.add(gi, ops.linear(h, w_hh, b_hh)), 4, axis=-1)
    c = ops.add(ops.mul(ops.sigmoid(f), c), ops.mul(ops.sigmoid(i), ops.tanh(g)))
    h = ops.mul(ops.sigmoid(o), ops.tanh(c))
    if w_hr is not None:
        h = ops.linear(h, w_hr)
    return h, c


def _gru_step(gi: Any, h: Any, w_hh: Any, b_hh: Any) -> Any:
    """h' = (1 - z) n + z h = n + z (h - n), with r, z, n as in the module docstring (b_hn stays
    inside r (W_hn h + b_hn), as PyTorch has it)."""
    i_r, i_z, i_n = ops.split(gi, 3, axis=-1)
    h_r, h_z, h_n = ops.split(ops.linear(h, w_hh, b_hh), 3, axis=-1)
    r = ops.sigmoid(ops.add(i_r, h_r))
    z = ops.sigmoid(ops.add(i_z, h_z))
    n = ops.tanh(ops.add(i_n, ops.mul(r, h_n)))
    return ops.add(n, ops.mul(z, ops.sub(h, n)))


# --- the cells as functions (torch.rnn_tanh_cell, torch.lstm_cell, ...) --------------------------


def rnn_tanh_cell(input: Any, hx: Any, w_ih: Any, w_hh: Any, b_ih: Any = None,
                  b_hh: Any = None) -> Any:
    """h' = tanh(W_ih x + b_ih + W_hh h + b_hh) (torch.rnn_tanh_cell); x (N, H_in), h (N, H)."""
    return _rnn_step(ops.linear(input, w_ih, b_ih), hx, w_hh, b_hh, ops.tanh)


def rnn_relu_cell(input: Any, hx: Any, w_ih: Any, w_hh: Any, b_ih: Any = None,
                  b_hh: Any = None) -> Any:
    """h' = relu(W_ih x + b_ih + W_hh h + b_hh) (torch.rnn_relu_cell)."""
    return _rnn_step(ops.linear(input, w_ih, b_ih), hx, w_hh, b_hh, ops.relu)


def lstm_cell(input: Any, hx: tuple[Any, Any], w_ih: Any, w_hh: Any, b_ih: Any = None,
              b_hh: Any = None) -> tuple[Any, Any]:
    """(h', c') of one LSTM step from hx = (h, c) (torch.lstm_cell); gates i, f, g, o."""
    h, c = hx
    return _lstm_step(ops.linear(input, w_ih, b_ih), h, c, w_hh, b_hh)


def gru_cell(input: Any, hx: Any, w_ih: Any, w_hh: Any, b_ih: Any = None,
             b_hh: Any = None) -> Any:
    """h' of one GRU step (torch.gru_cell); gates r, z, n."""
    return _gru_step(ops.linear(input, w_ih, b_ih), hx, w_hh, b_hh)


# --- checks -------------------------------------------------------------------------------------


def _positive_int(who: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{who}: {name} must be an int, got {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"{who}: {name} must be greater than zero, got {value}")
    return int(value)


def _check_state(who: str, name: str, state: Any, want: tuple, meaning: str) -> None:
    got = shape_of(state)
    if got != want:
        raise ValueError(f"{who}: expected {name} of shape {want} {meaning}, got {got}")


# --- the sequence layers ------------------------------------------------------------------------


class RNNBase(Module):
    """What RNN, LSTM and GRU share: the parameters of every layer and direction, the checks and
    the time loop.

    Parameters, in PyTorch's order, for each layer k and direction (suffix ``_reverse`` for the
    backward one): ``weight_ih_l{k}`` (G H, H_in of the layer), ``weight_hh_l{k}`` (G H, H_out),
    ``bias_ih_l{k}``, ``bias_hh_l{k}`` (G H,), and for LSTM with proj_size > 0 ``weight_hr_l{k}``
    (proj_size, H); G = 1 (RNN), 4 (LSTM), 3 (GRU); H_out = proj_size or hidden_size. Every one is
    initialised uniform in +-1/sqrt(hidden_size).
    """

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, *, dtype: Any = np.float32,
                 generator: np.random.Generator | None = None) -> None:
        super().__init__()
        if mode not in _GATES:
            raise ValueError(f"RNNBase: unrecognised mode {mode!r}; one of {sorted(_GATES)}")
        who = "RNN" if mode.startswith("RNN") else mode
        self.mode = mode
        self.input_size = _positive_int(who, "input_size", input_size)
        self.hidden_size = _positive_int(who, "hidden_size", hidden_size)
        self.num_layers = _positive_int(who, "num_layers", num_layers)
        if (isinstance(dropout, bool) or not isinstance(dropout, numbers.Number)
                or not 0.0 <= float(dropout) <= 1.0):
            raise ValueError(f"{who}: dropout should be a number in range [0, 1] representing "
                             f"the probability of an element being zeroed, got {dropout!r}")
        if dropout > 0 and self.num_layers == 1:
            warnings.warn(f"{who}: dropout option adds dropout after all but last recurrent "
                          f"layer, so non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}", UserWarning,
                          stacklevel=3)
        if proj_size < 0:
            raise ValueError(f"{who}: proj_size should be a positive integer or zero to disable "
                             f"projections, got {proj_size}")
        if proj_size and mode != "LSTM":
            raise ValueError(f"{who}: proj_size argument is only supported for LSTM, not RNN or "
                             f"GRU")
        if proj_size >= self.hidden_size:
            raise ValueError(f"{who}: proj_size has to be smaller than hidden_size, got "
                             f"proj_size={proj_size} and hidden_size={self.hidden_size}")
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = float(dropout)
        self.bidirectional = bool(bidirectional)
        self.proj_size = int(proj_size)
        self.generator = rng.resolve(generator, who) if generator is not None else None
        gates = _GATES[mode] * self.hidden_size
        out_size = self.proj_size or self.hidden_size
        directions = 2 if self.bidirectional else 1
        self._all_weights: list[list[str]] = []
        for layer in range(self.num_layers):
            layer_in = self.input_size if layer == 0 else out_size * directions
            for direction in range(directions):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                shapes: dict[str, tuple[int, ...]] = {
                    f"weight_ih{suffix}": (gates, layer_in),
                    f"weight_hh{suffix}": (gates, out_size)}
                if self.bias:
                    shapes[f"bias_ih{suffix}"] = (gates,)
                    shapes[f"bias_hh{suffix}"] = (gates,)
                if self.proj_size:
                    shapes[f"weight_hr{suffix}"] = (self.proj_size, self.hidden_size)
                for name, shape in shapes.items():
                    setattr(self, name, Parameter(np.empty(shape, dtype)))
                self._all_weights.append(list(shapes))
        self.reset_parameters()

    @property
    def _who(self) -> str:
        return type(self).__name__

    def reset_parameters(self) -> None:
        """PyTorch's: every parameter uniform in +-1/sqrt(hidden_size)."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            init.uniform_(weight, -bound, bound, generator=self.generator)

    def flatten_parameters(self) -> None:
        """Nothing to do: PyTorch compacts the weights for cuDNN here; numpy needs no such
        layout (kept so that code written for PyTorch runs unchanged)."""

    @property
    def all_weights(self) -> list[list[Parameter]]:
        """The parameters of each layer and direction, in order (torch's ``all_weights``)."""
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def _weights(self, layer: int, direction: int) -> tuple[Any, Any, Any, Any, Any]:
        """(w_ih, w_hh, b_ih, b_hh, w_hr) of one layer and direction (None where absent)."""
        suffix = f"_l{layer}" + ("_reverse" if direction else "")
        get = self._parameters.get
        return (get(f"weight_ih{suffix}"), get(f"weight_hh{suffix}"), get(f"bias_ih{suffix}"),
                get(f"bias_hh{suffix}"), get(f"weight_hr{suffix}"))

    def _state_shape(self, n: int | None, size: int) -> tuple[int, ...]:
        first = self.num_layers * (2 if self.bidirectional else 1)
        return (first, size) if n is None else (first, n, size)

    def _check_input(self, input: Any) -> bool:
        """Raise unless input is (L, N, H_in) (or (N, L, H_in) with batch_first) or (L, H_in);
        returns whether it is batched."""
        s = shape_of(input)
        batched = (("N, L" if self.batch_first else "L, N") + f", {self.input_size}")
        expect = (f"({batched}) (batched, batch_first={self.batch_first}) or "
                  f"(L, {self.input_size}) (unbatched)")
        if len(s) not in (2, 3):
            raise ValueError(f"{self._who}: expected input of shape {expect}, got a {len(s)}-d "
                             f"input of shape {s}")
        if s[-1] != self.input_size:
            raise ValueError(f"{self._who}: input of shape {s} has feature size {s[-1]}, expected "
                             f"input_size={self.input_size}: {expect}")
        seq_axis = 1 if self.batch_first and len(s) == 3 else 0
        if s[seq_axis] == 0:
            raise ValueError(f"{self._who}: input of shape {s} is a sequence of length 0; it "
                             f"needs at least one step")
        return len(s) == 3

    def _initial(self, hx: Any, name: str, n: int | None, size: int, dtype: Any) -> Any:
        """The initial state ``hx`` checked against (layers * directions, N, size), or zeros."""
        want = self._state_shape(n, size)
        if hx is None:
            return np.zeros(want, dtype)
        meaning = ("(num_layers * num_directions, N, " if n is not None
                   else "(num_layers * num_directions, ") + (
            "proj_size)" if size == self.proj_size else "hidden_size)")
        if n is None and len(shape_of(hx)) != 2:
            meaning += " (unbatched input, so a 2-d state)"
        elif n is not None and len(shape_of(hx)) != 3:
            meaning += " (batched input, so a 3-d state)"
        _check_state(self._who, name, hx, want, meaning)
        return hx

    def _direction(self, gi: Any, h: Any, c: Any, weights: tuple, reverse: bool
                   ) -> tuple[list[Any], Any, Any]:
        """Run one direction of one layer over the steps of gi (L, N, G H), the input's part of
        the gates; returns the hidden states in time order and the last (h, c)."""
        _, w_hh, _, b_hh, w_hr = weights
        length = shape_of(gi)[0]
        outputs = []
        for t in (range(length - 1, -1, -1) if reverse else range(length)):
            g = ops.getitem(gi, t)
            if self.mode == "LSTM":
                h, c = _lstm_step(g, h, c, w_hh, b_hh, w_hr)
            elif self.mode == "GRU":
                h = _gru_step(g, h, w_hh, b_hh)
            else:
                h = _rnn_step(g, h, w_hh, b_hh,
                              ops.tanh if self.mode == "RNN_TANH" else ops.relu)
            outputs.append(h)
        if reverse:
            outputs.reverse()
        return outputs, h, c

    def _run(self, input: Any, hx: Any) -> tuple[Any, Any, Any]:
        """(output, h_n, c_n) for a checked input and raw hx (c_n is None but for LSTM)."""
        batched = self._check_input(input)
        x = input
        if not batched:
            x = ops.expand_dims(x, 1)
        elif self.batch_first:
            x = ops.swapaxes(x, 0, 1)
        n = shape_of(x)[1]
        dtype = dtype_of(x)
        out_size = self.proj_size or self.hidden_size
        if self.mode == "LSTM":
            if hx is not None and not (isinstance(hx, tuple) and len(hx) == 2):
                raise TypeError(f"{self._who}: hx must be a tuple (h_0, c_0), got "
                                f"{type(hx).__name__}")
            h0, c0 = (None, None) if hx is None else hx
            c0 = self._initial(c0, "c_0", n if batched else None, self.hidden_size, dtype)
        else:
            if isinstance(hx, tuple):
                raise TypeError(f"{self._who}: hx must be one tensor h_0, got a tuple")
            h0, c0 = hx, None
        h0 = self._initial(h0, "h_0", n if batched else None, out_size, dtype)
        if not batched:
            h0 = ops.expand_dims(h0, 1)
            c0 = None if c0 is None else ops.expand_dims(c0, 1)

        directions = 2 if self.bidirectional else 1
        h_n, c_n = [], []
        for layer in range(self.num_layers):
            per_direction = []
            for direction in range(directions):
                weights = self._weights(layer, direction)
                k = layer * directions + direction
                gi = ops.linear(x, weights[0], weights[2])  # every step's input part at once
                outputs, h, c = self._direction(gi, ops.getitem(h0, k),
                                                None if c0 is None else ops.getitem(c0, k),
                                                weights, reverse=direction == 1)
                per_direction.append(ops.stack(outputs, 0))
                h_n.append(h)
                c_n.append(c)
            x = per_direction[0] if directions == 1 else ops.concatenate(per_direction, -1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True, self.generator)

        h_last = ops.stack(h_n, 0)
        c_last = ops.stack(c_n, 0) if self.mode == "LSTM" else None
        if not batched:
            x, h_last = ops.squeeze(x, 1), ops.squeeze(h_last, 1)
            c_last = None if c_last is None else ops.squeeze(c_last, 1)
        elif self.batch_first:
            x = ops.swapaxes(x, 0, 1)
        return x, h_last, c_last

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


_SHAPES = """Shapes: input (L, N, H_in), or (N, L, H_in) with ``batch_first``, or (L, H_in)
    unbatched; h_0 and h_n (D num_layers, N, H_out) (without N when unbatched), D = 2 if
    bidirectional else 1; output (L, N, D H_out) (batch_first: (N, L, D H_out)), the last layer's
    hidden states, the two directions' joined on the last axis. ``dropout`` applies to the outputs
    of every layer but the last, in training mode, drawing from ``generator`` (a numpy Generator;
    by default nn's)."""


class RNN(RNNBase):
    """Elman RNN: h_t = act(W_ih x_t + b_ih + W_hh h_(t-1) + b_hh), act = tanh or relu
    (torch.nn.RNN).

    forward(input, hx=None) returns (output, h_n).

    {shapes}
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, *, dtype: Any = np.float32,
                 generator: np.random.Generator | None = None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: unknown nonlinearity {nonlinearity!r}; select from 'tanh' "
                             f"or 'relu'")
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size,
                         hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         dtype=dtype, generator=generator)

    def forward(self, input: Any, hx: Any = None) -> tuple[Any, Any]:
        output, h_n, _ = self._run(input, hx)
        return output, h_n


class LSTM(RNNBase):
    """Long short-term memory (torch.nn.LSTM): with i, f, g, o = W_ih x_t + b_ih + W_hh h + b_hh,

        c_t = sigmoid(f) c_(t-1) + sigmoid(i) tanh(g),  h_t = sigmoid(o) tanh(c_t),

    and h_t = W_hr h_t when proj_size > 0 (H_out = proj_size; c keeps hidden_size).

    forward(input, (h_0, c_0)=None) returns (output, (h_n, c_n)); c_0 and c_n are
    (D num_layers, N, hidden_size).

    {shapes}
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, *, dtype: Any = np.float32,
                 generator: np.random.Generator | None = None) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, proj_size, dtype=dtype, generator=generator)

    def forward(self, input: Any, hx: Any = None) -> tuple[Any, tuple[Any, Any]]:
        output, h_n, c_n = self._run(input, hx)
        return output, (h_n, c_n)


class GRU(RNNBase):
    """Gated recurrent unit (torch.nn.GRU):

        r = sigmoid(W_ir x + b_ir + W_hr h + b_hr),  z = sigmoid(W_iz x + b_iz + W_hz h + b_hz),
        n = tanh(W_in x + b_in + r (W_hn h + b_hn)),  h_t = (1 - z) n + z h_(t-1).

    forward(input, hx=None) returns (output, h_n).

    {shapes}
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, *, dtype: Any = np.float32,
                 generator: np.random.Generator | None = None) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, dtype=dtype, generator=generator)

    def forward(self, input: Any, hx: Any = None) -> tuple[Any, Any]:
        output, h_n, _ = self._run(input, hx)
        return output, h_n


for _cls in (RNN, LSTM, GRU):
    _cls.__doc__ = (_cls.__doc__ or "").replace("{shapes}", _SHAPES)


# --- the cells ----------------------------------------------------------------------------------


class RNNCellBase(Module):
    """What the cells share: weight_ih (G H, H_in), weight_hh (G H, H), bias_ih, bias_hh (G H,),
    uniform in +-1/sqrt(hidden_size); input (N, H_in) or (H_in,), states (N, H) or (H,)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool, gates: int,
                 dtype: Any, generator: np.random.Generator | None) -> None:
        super().__init__()
        who = type(self).__name__
        self.input_size = _positive_int(who, "input_size", input_size)
        self.hidden_size = _positive_int(who, "hidden_size", hidden_size)
        self.bias = bool(bias)
        self.generator = rng.resolve(generator, who) if generator is not None else None
        g = gates * self.hidden_size
        self.weight_ih = Parameter(np.empty((g, self.input_size), dtype))
        self.weight_hh = Parameter(np.empty((g, self.hidden_size), dtype))
        if self.bias:
            self.bias_ih = Parameter(np.empty((g,), dtype))
            self.bias_hh = Parameter(np.empty((g,), dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's: every parameter uniform in +-1/sqrt(hidden_size)."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            init.uniform_(weight, -bound, bound, generator=self.generator)

    def _prepare(self, input: Any, states: list[tuple[str, Any]]) -> tuple[Any, list, bool]:
        """(input as (N, H_in), the states as (N, H) (zeros where None), batched?), checked."""
        who, s = type(self).__name__, shape_of(input)
        expect = f"(N, {self.input_size}) (batched) or ({self.input_size},) (unbatched)"
        if len(s) not in (1, 2):
            raise ValueError(f"{who}: expected input of shape {expect}, got a {len(s)}-d input "
                             f"of shape {s}")
        if s[-1] != self.input_size:
            raise ValueError(f"{who}: input of shape {s} has feature size {s[-1]}, expected "
                             f"input_size={self.input_size}: {expect}")
        batched = len(s) == 2
        want = (s[0], self.hidden_size) if batched else (self.hidden_size,)
        out = []
        for name, state in states:
            if state is None:
                out.append(np.zeros((s[0] if batched else 1, self.hidden_size), dtype_of(input)))
                continue
            meaning = "(N, hidden_size)" if batched else "(hidden_size,) (unbatched input)"
            _check_state(who, name, state, want, meaning)
            out.append(state if batched else ops.expand_dims(state, 0))
        return (input if batched else ops.expand_dims(input, 0)), out, batched

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity!r}"
        return s


def _unbatch(x: Any, batched: bool) -> Any:
    return x if batched else ops.squeeze(x, 0)


class RNNCell(RNNCellBase):
    """One step of an Elman RNN: h' = act(W_ih x + b_ih + W_hh h + b_hh), act = tanh or relu
    (torch.nn.RNNCell). forward(input, hx=None) returns h' (zeros for a missing hx)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", *, dtype: Any = np.float32,
                 generator: np.random.Generator | None = None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: unknown nonlinearity {nonlinearity!r}; select from "
                             f"'tanh' or 'relu'")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, 1, dtype, generator)

    def forward(self, input: Any, hx: Any = None) -> Any:
        x, (h,), batched = self._prepare(input, [("hx", hx)])
        cell = rnn_tanh_cell if self.nonlinearity == "tanh" else rnn_relu_cell
        return _unbatch(cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh),
                        batched)


class LSTMCell(RNNCellBase):
    """One LSTM step (torch.nn.LSTMCell): with i, f, g, o = W_ih x + b_ih + W_hh h + b_hh,
    c' = sigmoid(f) c + sigmoid(i) tanh(g), h' = sigmoid(o) tanh(c').
    forward(input, (h, c)=None) returns (h', c')."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, *,
                 dtype: Any = np.float32, generator: np.random.Generator | None = None) -> None:
        super().__init__(input_size, hidden_size, bias, 4, dtype, generator)

    def forward(self, input: Any, hx: Any = None) -> tuple[Any, Any]:
        if hx is not None and not (isinstance(hx, tuple) and len(hx) == 2):
            raise TypeError(f"LSTMCell: hx must be a tuple (h, c), got {type(hx).__name__}")
        h0, c0 = (None, None) if hx is None else hx
        x, (h, c), batched = self._prepare(input, [("h", h0), ("c", c0)])
        h, c = lstm_cell(x, (h, c), self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return _unbatch(h, batched), _unbatch(c, batched)


class GRUCell(RNNCellBase):
    """One GRU step (torch.nn.GRUCell): r, z, n as in GRU, h' = (1 - z) n + z h.
    forward(input, hx=None) returns h'."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, *,
                 dtype: Any = np.float32, generator: np.random.Generator | None = None) -> None:
        super().__init__(input_size, hidden_size, bias, 3, dtype, generator)

    def forward(self, input: Any, hx: Any = None) -> Any:
        x, (h,), batched = self._prepare(input, [("hx", hx)])
        return _unbatch(gru_cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh),
                        batched)


__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "GRUCell",
    "LSTMCell",
    "RNNBase",
    "RNNCell",
    "RNNCellBase",
    "gru_cell",
    "lstm_cell",
    "rnn_relu_cell",
    "rnn_tanh_cell",
]
