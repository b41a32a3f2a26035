"""Module and Parameter: networks as trees of modules that own parameters.

A ``Module`` registers what is assigned to it: a ``Parameter`` becomes one of its parameters, a
``Module`` one of its children, so ``parameters()`` finds every learnable tensor of a network. This
works even when a subclass's ``__init__`` never calls ``super().__init__()``, as the curriculum's
MLP does: the registries are created on first use.

>>> class MLP(Module):
...     def __init__(self):
...         self.fc1 = Linear(4, 3)
...         self.fc2 = Linear(3, 2)
...     def forward(self, x):
...         return self.fc2(self.fc1(x).relu())
>>> from nn.layers import Linear
>>> model = MLP()
>>> [name for name, _ in model.named_parameters()]
['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']
"""
from __future__ import annotations

import itertools
import reprlib
import warnings
import weakref
from collections import OrderedDict, namedtuple
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from adcore.methods import check_device, to_arguments
from reverse import Tensor, no_grad

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class Parameter(Tensor):
    """A Tensor that a Module registers as learnable: a leaf that requires grad by default.

    ``Parameter(data)`` copies ``data`` (a Tensor, an array or a list), as every Tensor constructor
    does; results of ops on a Parameter are plain Tensors.
    """

    __slots__ = ()

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        if data is None:
            data = np.empty((0,), np.float32)
        super().__init__(data, requires_grad=requires_grad)

    def __setattr__(self, name: str, value: Any) -> None:
        """``p.data = t`` (PyTorch's habit) makes ``p`` hold ``t``'s array, shared, in its dtype
        and shape; anything but a Tensor of plain values or an ndarray is refused. (A hook on
        setting, not a property: reading ``p.data`` stays a plain slot read on every op.)"""
        if name == "data":
            if isinstance(value, Tensor):
                array = value._unwrap()
                if type(array) is not np.ndarray:
                    raise TypeError(f"Parameter.data = {type(value).__name__}: the tensor carries "
                                    f"a transformation's values; assign one computed outside it")
                value = array
            elif type(value) is not np.ndarray:
                raise TypeError(f"Parameter.data = {type(value).__name__} {reprlib.repr(value)}: "
                                f"expected a Tensor or numpy array; wrap it, "
                                f"p.data = Tensor(value, dtype=p.dtype)")
        object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


def check_input_dtype(layer: Any, x: Any, weight: Any) -> None:
    """Refuse an input whose dtype differs from the layer's weight, as PyTorch does.

    numpy would promote a float64 batch through a float32 layer without a word (twice the memory,
    a float64 result); text, and other values that are not numbers, are named with the layer.
    The ``linear`` and ``conv`` ops themselves keep numpy's promotion, for numpy-style code.
    """
    if isinstance(x, (str, bytes)) or (type(x) is np.ndarray and x.dtype.kind not in "biuf"):
        raise TypeError(f"{layer!r:.80}: expected a Tensor (or array) of numbers, got "
                        f"{type(x).__name__} {reprlib.repr(x)}; pass the batch as numbers, "
                        f"e.g. Tensor([[0.5, 1.0]]) for one example of two features")
    dtype = getattr(x, "dtype", None)
    if isinstance(dtype, np.dtype) and dtype != weight.dtype:
        name = np.dtype(weight.dtype).name
        or_layer = f", or the layer, layer.to(np.{dtype})" if dtype.kind == "f" else ""
        raise TypeError(f"{layer!r:.80}: the input is {dtype} but the layer's weight is {name}, "
                        f"and a layer computes in its own dtype (as PyTorch's do); convert the "
                        f"input, x.astype(np.{name}) (or Tensor(x, dtype=np.{name})){or_layer}")


_REGISTRIES = ("_parameters", "_buffers", "_modules")
_hook_ids = itertools.count()  # one id per registered hook, never reused (as PyTorch's handles)


class RemovableHandle:
    """What ``register_forward_hook`` and ``register_forward_pre_hook`` return (PyTorch's
    torch.utils.hooks.RemovableHandle): ``handle.remove()`` unregisters the hook (calling it again
    does nothing); as a context manager, the hook is removed on exit.

    It holds the module's hook tables weakly, so that a handle kept after its module is gone
    keeps nothing alive.
    """

    __slots__ = ("_tables", "id")

    def __init__(self, *tables: OrderedDict) -> None:
        self._tables = tuple(weakref.ref(t) for t in tables)
        self.id = next(_hook_ids)

    def remove(self) -> None:
        for ref in self._tables:
            table = ref()
            if table is not None:
                table.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()

    def __repr__(self) -> str:
        return f"RemovableHandle(id={self.id})"


def _refuse_plain_containers(owner: str, name: str, value: Any) -> None:
    """A list, tuple or dict of Modules (or Parameters) assigned to a Module would not be
    registered: its parameters would silently go untrained. PyTorch lets it pass; here it is an
    error that names the container to use."""
    if isinstance(value, (list, tuple)):
        items = list(value)
    elif isinstance(value, dict):
        items = list(value.values())
    else:
        return
    kinds = {"Module" if isinstance(v, Module) else "Parameter" if isinstance(v, Parameter)
             else "" for v in items}
    kinds.discard("")
    if not kinds:
        return
    kind = "Parameter" if kinds == {"Parameter"} else "Module"
    container = ("Dict" if isinstance(value, dict) else "List")
    use = f"nn.{kind}{container}" if kind == "Module" else f"nn.Parameter{container}"
    raise TypeError(f"{owner}.{name}: a plain {type(value).__name__} of {kind}s is not registered, "
                    f"so its parameters would not be trained or saved; use {use}(...) instead")


class Module:
    """Base class of networks and layers: define ``forward``; call the module to run it.

    Assigning a ``Parameter`` or a ``Module`` to an attribute registers it; ``parameters()``,
    ``state_dict()``, ``train()``, ``zero_grad()`` then reach the whole tree.
    """

    training = True  # a class default, so that subclasses need not call super().__init__()

    def __init__(self) -> None:
        for kind in _REGISTRIES:
            object.__setattr__(self, kind, OrderedDict())

    # --- registration ---------------------------------------------------------------------------
    # One source of truth, as in PyTorch: a parameter lives only in ``_parameters``, a buffer only
    # in ``_buffers``, a submodule only in ``_modules``. None of them is ever in the instance's
    # ``__dict__``, so reading ``self.weight`` misses the ordinary lookup and ``__getattr__`` finds
    # it in its registry; ``m._parameters["weight"] = p`` is therefore seen by ``m.weight`` too.
    def _registry(self, kind: str) -> OrderedDict[str, Any]:
        found = self.__dict__.get(kind)
        if found is None:
            found = OrderedDict()
            object.__setattr__(self, kind, found)
        return found

    def __getattr__(self, name: str) -> Any:  # called only when ordinary lookup fails
        d = self.__dict__
        params = d.get("_parameters")
        if params is not None and name in params:
            return params[name]
        buffers = d.get("_buffers")
        if buffers is not None and name in buffers:
            return buffers[name]
        modules = d.get("_modules")
        if modules is not None and name in modules:
            return modules[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __setattr__(self, name: str, value: Any) -> None:
        params = self._registry("_parameters")
        if isinstance(value, Parameter):
            self._forget(name)
            self.register_parameter(name, value)
            return
        if name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as parameter '{name}' "
                                f"(torch.nn.Parameter or None expected): {type(self).__name__}."
                                f"{name} is a parameter; wrap the value: nn.Parameter(value)")
            params[name] = None
            return
        modules = self._registry("_modules")
        if isinstance(value, Module):
            self._forget(name)
            self.add_module(name, value)
            return
        if name in modules:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as child module "
                                f"'{name}' (torch.nn.Module or None expected)")
            modules[name] = None
            return
        buffers = self._registry("_buffers")
        if name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{type(value).__name__}' as buffer '{name}' "
                                f"(Tensor or None expected)")
            buffers[name] = value
            return
        _refuse_plain_containers(type(self).__name__, name, value)
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        for kind in _REGISTRIES:
            registry = self.__dict__.get(kind)
            if registry is not None and name in registry:
                del registry[name]
                return
        object.__delattr__(self, name)

    def _forget(self, name: str) -> None:
        """Remove ``name`` from every registry and from the instance's __dict__."""
        for kind in _REGISTRIES:
            self._registry(kind).pop(name, None)
        self.__dict__.pop(name, None)

    def _check_new_name(self, fn: str, name: Any, kind: str) -> None:
        """PyTorch's checks before registering: a non-empty str without a dot, not already an
        attribute of another kind."""
        if not isinstance(name, str):
            raise TypeError(f"{fn}: name must be a str, got {type(name).__name__}")
        if name == "" or "." in name:
            raise KeyError(f"{fn}: name {name!r} must be non-empty and contain no \".\" (dotted "
                           f"names are how state_dict addresses nested modules)")
        if name not in self._registry(kind) and hasattr(self, name):
            raise KeyError(f"{fn}: attribute '{name}' already exists")

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` (or None, a parameter slot left empty) under ``name``."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{type(param).__name__}' object to parameter "
                            f"'{name}' (torch.nn.Parameter or None required)")
        self._check_new_name("register_parameter", name, "_parameters")
        self._registry("_parameters")[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None) -> None:
        """Register a tensor that is state but not learnable (a running mean): it is saved in
        ``state_dict`` and moves with the module, but ``parameters()`` leaves it out."""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' "
                            f"(Tensor or None required)")
        self._check_new_name("register_buffer", name, "_buffers")
        self._registry("_buffers")[name] = tensor

    def add_module(self, name: str, module: Module | None) -> None:
        """Register ``module`` as a child under ``name``."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} must be a Module, got {type(module).__name__}")
        self._check_new_name("add_module", name, "_modules")
        self._registry("_modules")[name] = module

    register_module = add_module

    # --- running --------------------------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not define forward(); a Module "
                                  f"subclass defines forward(self, x) and is called as module(x)")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        d = self.__dict__
        if d.get("_forward_pre_hooks") or d.get("_forward_hooks"):
            return self._call_with_hooks(args, kwargs)
        out = self.forward(*args, **kwargs)
        if out is None:
            self._forward_returned_none()
        return out

    def _forward_returned_none(self) -> None:
        raise TypeError(f"{type(self).__name__}.forward returned None; it must return its "
                        f"output (is a `return` missing at its end?)")

    # --- forward hooks (PyTorch's register_forward_pre_hook and register_forward_hook) -----------
    # Each table maps a handle's id to its hook, in the order the hooks run; a second table holds
    # the ids of the hooks that take keyword arguments too (and of those always called), so that
    # a handle removes a hook from every table it is in.
    def register_forward_pre_hook(self, hook: Callable[..., Any], *, prepend: bool = False,
                                  with_kwargs: bool = False) -> RemovableHandle:
        """Call ``hook(module, args)`` before every forward; if it returns a value other than
        None, that is the new positional input (a non-tuple is wrapped into a 1-tuple). With
        ``with_kwargs=True``, ``hook(module, args, kwargs)`` returns None or a pair (args,
        kwargs). Hooks run in the order registered (``prepend=True`` puts this one first).
        Returns a handle whose ``remove()`` unregisters it.

        >>> from nn.layers import Identity
        >>> m = Identity()
        >>> handle = m.register_forward_pre_hook(lambda module, args: args[0] * 2)
        >>> m(3)
        6
        >>> handle.remove(); m(3)
        3
        """
        return self._add_hook("register_forward_pre_hook", "_forward_pre_hooks", hook, prepend,
                              with_kwargs, False)

    def register_forward_hook(self, hook: Callable[..., Any], *, prepend: bool = False,
                              with_kwargs: bool = False,
                              always_call: bool = False) -> RemovableHandle:
        """Call ``hook(module, args, output)`` after every forward (``args``: the positional
        input, after the pre-hooks); if it returns a value other than None, that replaces the
        output. With ``with_kwargs=True``, ``hook(module, args, kwargs, output)``. With
        ``always_call=True`` the hook also runs (with output None) when forward raises. Hooks run
        in the order registered (``prepend=True`` puts this one first). Returns a handle whose
        ``remove()`` unregisters it.

        >>> from nn.layers import Identity
        >>> m = Identity()
        >>> seen = []
        >>> with m.register_forward_hook(lambda module, args, out: seen.append(out)):
        ...     _ = m(5)
        >>> _ = m(6); seen
        [5]
        """
        return self._add_hook("register_forward_hook", "_forward_hooks", hook, prepend,
                              with_kwargs, always_call)

    def _hook_table(self, kind: str) -> OrderedDict[int, Any]:
        """A table of hooks by handle id, made on first use (as the registries are)."""
        found = self.__dict__.get(kind)
        if found is None:
            found = OrderedDict()
            object.__setattr__(self, kind, found)
        return found

    def _add_hook(self, fn: str, kind: str, hook: Callable[..., Any], prepend: bool,
                  with_kwargs: bool, always_call: bool) -> RemovableHandle:
        if not callable(hook):
            raise TypeError(f"{type(self).__name__}.{fn}: hook must be callable (a function of "
                            f"the module and its input), got {type(hook).__name__}")
        table, keyworded = self._hook_table(kind), self._hook_table(kind + "_with_kwargs")
        always = self._hook_table("_forward_hooks_always_called")
        handle = RemovableHandle(table, keyworded, always)
        table[handle.id] = hook
        if prepend:
            table.move_to_end(handle.id, last=False)
        if with_kwargs:
            keyworded[handle.id] = True
        if always_call:
            always[handle.id] = True
        return handle

    def _call_with_hooks(self, args: tuple, kwargs: dict) -> Any:
        """__call__ when hooks are registered: pre-hooks, forward, hooks, as PyTorch's
        _call_impl."""
        name = type(self).__name__
        pre = self._hook_table("_forward_pre_hooks")
        pre_kw = self._hook_table("_forward_pre_hooks_with_kwargs")
        for key, hook in list(pre.items()):  # (a hook may remove itself or another)
            if key in pre_kw:
                result = hook(self, args, kwargs)
                if result is None:
                    continue
                if not (isinstance(result, tuple) and len(result) == 2
                        and isinstance(result[1], dict)):
                    raise TypeError(f"{name}: a forward pre-hook registered with "
                                    f"with_kwargs=True must return None or a pair (args, "
                                    f"kwargs), got {type(result).__name__}")
                args, kwargs = tuple(result[0]), result[1]
            else:
                result = hook(self, args)
                if result is not None:
                    args = result if isinstance(result, tuple) else (result,)
        post = self._hook_table("_forward_hooks")
        post_kw = self._hook_table("_forward_hooks_with_kwargs")
        always = self._hook_table("_forward_hooks_always_called")
        called: set[int] = set()
        out = None
        try:
            out = self.forward(*args, **kwargs)
            if out is None:
                self._forward_returned_none()
            for key, hook in list(post.items()):
                called.add(key)
                result = hook(self, args, kwargs, out) if key in post_kw else hook(self, args, out)
                if result is not None:
                    out = result
        except Exception:
            for key, hook in list(post.items()):
                if key in always and key not in called:
                    try:
                        hook(self, args, kwargs, out) if key in post_kw else hook(self, args, out)
                    except Exception as e:  # the first error is the one raised, as PyTorch
                        warnings.warn(f"{name}: a forward hook registered with always_call=True "
                                      f"raised {type(e).__name__}: {e}", stacklevel=2)
            raise
        return out

    # --- traversal ------------------------------------------------------------------------------
    def named_modules(self, memo: set | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:
        """(name, module) for this module and every descendant, depth first in registration
        order, each once (``remove_duplicate=False``: a shared module under each of its names).
        ``memo``: modules to leave out (and where the ones yielded are added), as PyTorch."""
        memo = set() if memo is None else memo
        stack = [(prefix, self)]
        while stack:  # depth first, in registration order, without recursion
            name, module = stack.pop()
            if remove_duplicate:
                if module in memo:
                    continue
                memo.add(module)
            yield name, module
            children = [(f"{name}.{n}" if name else n, m)
                        for n, m in module._registry("_modules").items() if m is not None]
            stack.extend(reversed(children))

    def modules(self) -> Iterator[Module]:
        """This module and every descendant, each once (named_modules without the names)."""
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """(name, child) for each direct child, in registration order, each once."""
        seen = set()
        for name, module in self._registry("_modules").items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self) -> Iterator[Module]:
        """Each direct child, in registration order, each once."""
        for _, module in self.named_children():
            yield module

    def _named(self, kind: str, prefix: str, recurse: bool) -> Iterator[tuple[str, Any]]:
        seen: set = set()
        owners = self.named_modules(prefix=prefix) if recurse else iter([(prefix, self)])
        for owner_name, owner in owners:
            for name, value in owner._registry(kind).items():
                if value is None or id(value) in seen:
                    continue
                seen.add(id(value))
                yield (f"{owner_name}.{name}" if owner_name else name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True
                         ) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) for every parameter of the tree, each once even if shared."""
        return self._named("_parameters", prefix, recurse)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Every parameter of the tree, each once even if shared between layers."""
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Any]]:
        return self._named("_buffers", prefix, recurse)

    def buffers(self, recurse: bool = True) -> Iterator[Any]:
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    def apply(self, fn: Callable[[Module], None]) -> Module:
        """Call ``fn`` on every submodule, then on this module: children before their parent, in
        registration order (as PyTorch; a module shared by two parents is visited under each).
        Returns self: ``model.apply(init_weights)``."""
        stack: list[tuple[Module, bool]] = [(self, False)]
        while stack:  # post-order without recursion: a module is expanded, then visited
            module, expanded = stack.pop()
            if expanded:
                fn(module)
                continue
            stack.append((module, True))
            stack.extend((child, False) for child in reversed(list(module.children())))
        return self

    # --- modes and gradients --------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Training mode (Dropout active) for the whole tree; returns self."""
        for module in self.modules():
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self) -> Module:
        """Evaluation mode (Dropout off) for the whole tree; returns self."""
        return self.train(False)

    def to(self, *args: Any, **kwargs: Any) -> Module:
        """Convert every parameter and buffer (and gradient) to a floating ``dtype``, in place;
        a device is accepted when it is the CPU and refused by name otherwise. Returns self."""
        dtype, device = to_arguments(f"{type(self).__name__}.to", args, kwargs)
        check_device(f"{type(self).__name__}.to", device)
        if dtype is not None:
            if dtype.kind != "f":
                raise TypeError(f"{type(self).__name__}.to: parameters must stay floating-point, "
                                f"got dtype {dtype}; use np.float32 or np.float64")
            for t in [*self.parameters(), *self.buffers()]:
                if t is not None and t.data.dtype.kind == "f":
                    t.data = t.data.astype(dtype)
                    if t.grad is not None:
                        t.grad = Tensor(t.grad.data.astype(dtype))
        return self

    def double(self) -> Module:
        """Parameters and buffers as float64 (in place); returns self."""
        return self.to(np.float64)

    def float(self) -> Module:
        """Parameters and buffers as float32 (in place); returns self."""
        return self.to(np.float32)

    def cpu(self) -> Module:
        """Itself: the CPU is where everything already is."""
        return self

    def cuda(self, *args: Any, **kwargs: Any) -> Module:
        """Refused: this library computes with numpy, on the CPU."""
        check_device(f"{type(self).__name__}.cuda", "cuda")
        return self

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Set ``requires_grad`` of every parameter of the tree (freeze with False); returns
        self."""
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients of every parameter (to None, or to zeros in place)."""
        for param in self.parameters():
            if set_to_none or param.grad is None:
                param.grad = None
            else:
                param.grad.data[...] = 0

    # --- state ----------------------------------------------------------------------------------
    def state_dict(self) -> OrderedDict[str, Tensor]:
        """Every parameter and buffer by dotted name, as detached tensors sharing their memory."""
        state: OrderedDict[str, Tensor] = OrderedDict()
        for kind in ("_parameters", "_buffers"):
            for name, value in self._named(kind, "", True):
                state[name] = value.detach() if isinstance(value, Tensor) else value
        return state

    def load_state_dict(self, state_dict: Any, strict: bool = True) -> IncompatibleKeys:
        """Copy the values of ``state_dict`` into the parameters and buffers, in place.

        Every key, shape and dtype is checked before anything is assigned: on any mismatch the
        module is left unchanged and a ValueError lists every problem. With ``strict=False``,
        missing and unexpected keys are reported in the result instead of raised.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"{type(self).__name__}.load_state_dict: expected a mapping of names "
                            f"to arrays (what state_dict() or nn.load gives), got "
                            f"{type(state_dict).__name__} {reprlib.repr(state_dict)}; pass "
                            f"model.state_dict() of a model like this one, or nn.load(path)")
        own = self.state_dict()
        targets = dict(self._named("_parameters", "", True))
        targets.update(self._named("_buffers", "", True))
        given = dict(state_dict)
        missing = [k for k in own if k not in given]
        unexpected = [k for k in given if k not in own]
        problems = []
        if strict:
            problems += [f"missing key {k!r}" for k in missing]
            problems += [f"unexpected key {k!r}" for k in unexpected]
        values = {}
        for key in own:
            if key not in given:
                continue
            value = np.asarray(given[key].data if isinstance(given[key], Tensor) else given[key])
            want = targets[key]
            if value.shape != want.shape:
                problems.append(f"{key!r}: shape {value.shape} in the state dict, {want.shape} in "
                                f"the model")
            elif value.dtype != want.dtype:
                problems.append(f"{key!r}: dtype {value.dtype} in the state dict, {want.dtype} in "
                                f"the model (convert it with .astype({str(want.dtype)!r}))")
            else:
                values[key] = value
        if problems:
            raise ValueError(f"load_state_dict for {type(self).__name__}: the state dict does not "
                             f"fit this model, so nothing was loaded:\n  " + "\n  ".join(problems))
        with no_grad():
            for key, value in values.items():
                targets[key].copy_(value)
        return IncompatibleKeys(missing, unexpected)

    # --- printing -------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The arguments shown between the parentheses of this module's repr."""
        return ""

    def __repr__(self) -> str:
        lines = []
        for name, module in self._registry("_modules").items():
            body = repr(module).replace("\n", "\n  ")
            lines.append(f"({name}): {body}")
        extra = self.extra_repr()
        if not lines:
            return f"{type(self).__name__}({extra})"
        head = f"{type(self).__name__}(" + (f"{extra}\n" if extra else "\n")
        return head + "".join(f"  {line}\n" for line in lines) + ")"

    def __dir__(self) -> list[str]:
        names = set(super().__dir__())
        for kind in _REGISTRIES:
            names.update(self._registry(kind))
        return sorted(names)


def functional_call(module: Module, parameters_and_buffers: Any, args: Any = (),
                    kwargs: dict | None = None, *, strict: bool = False) -> Any:
    """``module(*args, **kwargs)`` with some of its parameters and buffers replaced, by dotted
    name, with the values in ``parameters_and_buffers`` (a dict, or a tuple of dicts), as
    torch.func.functional_call: the module itself is restored afterwards, even on an error.

    The values may be arrays or values of a transformation, which is what lets ``grad``, ``vmap``
    and ``jit`` see a module as a function of its parameters::

        params = {name: p.data for name, p in model.named_parameters()}
        grads = grad(lambda ps, x, y: cross_entropy(functional_call(model, ps, (x,)), y))(
            params, x, y)

    With ``strict=True`` every parameter and buffer must be given. A name the module does not
    have is refused, naming it.
    """
    given: dict[str, Any] = {}
    for d in (parameters_and_buffers if isinstance(parameters_and_buffers, tuple)
              else (parameters_and_buffers,)):
        if not isinstance(d, Mapping):
            raise TypeError(f"functional_call: expected a dict of name -> value (or a tuple of "
                            f"dicts), got {type(d).__name__}")
        for name in d:
            if name in given:
                raise ValueError(f"functional_call: {name!r} is given twice")
        given.update(d)
    slots: dict[str, tuple[Any, str]] = {}
    for kind in ("_parameters", "_buffers"):
        for owner_name, owner in module.named_modules():
            for name in owner._registry(kind):
                full = f"{owner_name}.{name}" if owner_name else name
                slots.setdefault(full, (owner._registry(kind), name))
    unknown = [n for n in given if n not in slots]
    if unknown:
        raise ValueError(f"functional_call: {type(module).__name__} has no parameter or buffer "
                         f"named {', '.join(map(repr, unknown))}; its names are those of "
                         f"named_parameters() and named_buffers()")
    if strict:
        missing = [n for n in slots if n not in given]
        if missing:
            raise ValueError(f"functional_call(strict=True): missing {', '.join(missing)}")
    saved = [(table, name, table[name]) for n, (table, name) in slots.items() if n in given]
    try:
        for n in given:
            table, name = slots[n]
            table[name] = given[n]
        if not isinstance(args, tuple):
            args = (args,)
        return module(*args, **(kwargs or {}))
    finally:
        for table, name, value in saved:
            table[name] = value
