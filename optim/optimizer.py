"""The Optimizer base class: parameter groups, per-parameter state, zero_grad, state dicts.

An optimizer needs of a parameter only its ``.data`` and ``.grad``. It updates parameters in place
(so they stay the same leaf tensors, and their version counters see the change), with its state in
arrays allocated once per parameter and updated in place. The update rules themselves are the
functions of ``optim.functional``; a subclass's ``_update`` finds the state arrays and calls its
rule. An update step makes no temporary arrays: the rules write their temporaries to two scratch
arrays per parameter, kept with the state.
"""
from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import numpy as np

from optim.functional import Scratch, scratch_like
from reverse import Tensor, enable_grad, no_grad
from reverse.versions import changed


class Optimizer:
    """Base class: ``param_groups`` (a list of dicts with ``params`` and per-group options such as
    ``lr``), ``state`` (per parameter), ``step()``, ``zero_grad()``, ``state_dict()``."""

    def __init__(self, params: Any, defaults: dict) -> None:
        self.defaults = dict(defaults)
        self.state: dict[Tensor, dict] = {}
        self.param_groups: list[dict] = []
        name = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError(f"{name}: params must be an iterable of tensors (model.parameters()), "
                            f"got a single Tensor; wrap it in a list")
        groups = list(params)
        if not groups:
            raise ValueError(f"{name}: got an empty parameter list. Pass model.parameters() "
                             f"(a generator can be used once only: call parameters() again, or "
                             f"make a list of it)")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group: dict) -> None:
        """Add a group of parameters with its own options (the defaults fill the others)."""
        name = type(self).__name__
        group = dict(group)
        params = group.get("params")
        params = [params] if isinstance(params, Tensor) else list(params or [])
        if not params:
            raise ValueError(f"{name}: parameter group {len(self.param_groups)} has no "
                             f"parameters ('params' is {group.get('params')!r}); give each group "
                             f"a non-empty list, such as {{'params': model.fc.parameters()}}")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: parameter {i} is a {type(p).__name__}, not a Parameter; "
                                f"pass model.parameters() (a list of lists, or a module, is not "
                                f"a parameter)")
            if not p.is_leaf:
                raise ValueError(f"{name}: parameter {i} (shape {p.shape}) is the result of an "
                                 f"op, not a leaf, so stepping it would change nothing the model "
                                 f"reads; optimize Parameters (nn.Parameter) or "
                                 f"Tensor(..., requires_grad=True)")
            # A frozen parameter (requires_grad=False) is accepted and skipped, as PyTorch's
            # optimizers do: it never has a gradient.
            if id(p) in seen:
                raise ValueError(f"{name}: parameter {i} (shape {p.shape}) appears in more than "
                                 f"one group or twice in one; give each parameter once")
            seen.add(id(p))
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        group["params"] = params
        self._check_group(group)
        self.param_groups.append(group)

    def _check_group(self, group: dict) -> None:
        """Refuse invalid options of a group (its own or the defaults); subclasses add theirs."""
        lr: Any = group.get("lr")
        _refuse_nan(type(self).__name__, "lr", lr, "a number >= 0, such as lr=0.01")
        if not _is_number(lr) or not lr >= 0:
            raise ValueError(f"{type(self).__name__}: invalid learning rate lr={lr!r}; it must be "
                             f"a number >= 0")

    def _check_option(self, group: dict, key: str, valid: Callable[[float], bool],
                      want: str) -> None:
        """Refuse ``group[key]`` unless it is a number for which ``valid`` holds; ``want`` says
        what it must be ("a number >= 0")."""
        value = group[key]
        _refuse_nan(type(self).__name__, key, value, want)
        if not _is_number(value) or not valid(value):
            raise ValueError(f"{type(self).__name__}: invalid {key}={value!r}; it must be {want}")

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's gradient: to None (the default, as PyTorch), or to zeros in
        place."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none or p.grad is None:
                    p.grad = None
                else:
                    p.grad.data[...] = 0

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient (parameters whose grad is None are
        skipped). ``closure``, if given, recomputes the loss first and its value is returned."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        grad = p.grad.data
                        if grad.shape != p.data.shape:
                            raise ValueError(f"{type(self).__name__}.step: a gradient of shape "
                                             f"{grad.shape} for a parameter of shape "
                                             f"{p.data.shape}; set p.grad to an array of "
                                             f"the parameter's shape")
                        # The rule writes into p.data directly; counting the change keeps
                        # backward from using a value saved before the step.
                        self._update(p.data, grad, self.state.setdefault(p, {}), group)
                        changed(p)
        return loss

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict, group: dict) -> None:
        """Update ``param`` (the parameter's data) in place from ``grad``, with the parameter's
        ``state`` and its ``group``'s options: set up the state, then call the rule."""
        raise NotImplementedError(f"{type(self).__name__} does not define its update")

    @staticmethod
    def _scratch(state: dict, param: np.ndarray) -> Scratch:
        """The parameter's two scratch arrays, allocated once (kept in the state under a name
        starting with "_", which state_dict leaves out)."""
        scratch = state.get("_scratch")
        if scratch is None:
            scratch = state["_scratch"] = scratch_like(param)
        return scratch

    # --- state dicts ----------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """{"state": {index: {name: array or number}}, "param_groups": [options with "params" as
        indices]}: parameters are numbered in group order, as in PyTorch."""
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            ids = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                ids.append(index[id(p)])
            groups.append({**{k: v for k, v in group.items() if k != "params"}, "params": ids})
        state = {}
        for p, s in self.state.items():
            entry = {k: (v.copy() if isinstance(v, np.ndarray) else v)
                     for k, v in s.items() if not k.startswith("_")}
            if entry and id(p) in index:  # plain SGD keeps no state, as in PyTorch
                state[index[id(p)]] = entry
        return {"state": dict(sorted(state.items())), "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore what ``state_dict`` returned (from an optimizer over the same parameters)."""
        name = type(self).__name__
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(f"{name}.load_state_dict: the state dict has {len(groups)} parameter "
                             f"group(s), this optimizer {len(self.param_groups)}; load it into "
                             f"an optimizer made with the same groups")
        params: dict[int, Any] = {}
        for mine, theirs in zip(self.param_groups, groups):
            if len(mine["params"]) != len(theirs["params"]):
                raise ValueError(f"{name}.load_state_dict: a group has {len(theirs['params'])} "
                                 f"parameters in the state dict and {len(mine['params'])} here; "
                                 f"load it into an optimizer over the same parameters")
            params.update(zip(theirs["params"], mine["params"]))
        new_state = {}
        for key, saved in state_dict["state"].items():
            p = params.get(int(key))
            if p is None:
                raise ValueError(f"{name}.load_state_dict: state for parameter {key}, which no "
                                 f"group lists; the state dict is of another optimizer")
            entry = {}
            for k, v in saved.items():
                if isinstance(v, np.ndarray) and v.ndim:
                    if v.shape != p.data.shape:
                        raise ValueError(f"{name}.load_state_dict: {k!r} of parameter {key} has "
                                         f"shape {v.shape}, the parameter {p.data.shape}; "
                                         f"the parameters are not those it was saved from")
                    v = v.astype(p.data.dtype, copy=True)
                elif isinstance(v, np.ndarray):
                    v = v.item()
                entry[k] = v
            new_state[p] = entry
        for mine, theirs in zip(self.param_groups, groups):
            for k, v in theirs.items():
                if k != "params":
                    mine[k] = tuple(v) if isinstance(mine.get(k), tuple) else v
        self.state = new_state

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join(lines) + "\n)"


def _is_number(value: Any) -> bool:
    """A real number (numpy's too), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _refuse_nan(name: str, key: str, value: Any, want: str) -> None:
    """Refuse a NaN option by name: every comparison with NaN is False, so a range check alone
    lets it through (``lambda v: True``), and one step would make every weight NaN."""
    if _is_number(value) and value != value:
        raise ValueError(f"{name}: invalid {key}={value!r}: NaN is not a usable value, it would "
                         f"make every weight NaN; it must be {want}")
