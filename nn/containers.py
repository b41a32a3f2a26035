"""Containers that register what they hold: ModuleList, ModuleDict, ParameterList, ParameterDict.

A plain Python list or dict of modules assigned to a Module is refused (its parameters would go
untrained); these are what to use instead, as in PyTorch: their items are registered under their
positions ("0", "1", ...) or keys, so ``parameters()`` and ``state_dict()`` reach them.

>>> from nn.layers import Linear
>>> layers = ModuleList([Linear(2, 2) for _ in range(3)])
>>> len(list(layers.parameters())), [name for name, _ in layers.named_parameters()][:2]
(6, ['0.weight', '0.bias'])
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from nn.module import Module, Parameter


class ModuleList(Module):
    """A list of modules, each registered under its position."""

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        for m in modules or ():
            self.append(m)

    def _items(self) -> list[Any]:
        return list(self._registry("_modules").values())

    def append(self, module: Module) -> ModuleList:
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList.append: expected a Module, got {type(module).__name__}")
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        items = self._items()
        items.insert(index, module)
        self._registry("_modules").clear()
        for m in items:
            self.append(m)

    def __len__(self) -> int:
        return len(self._registry("_modules"))

    def __iter__(self) -> Iterator[Module]:
        return iter(self._items())

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return ModuleList(self._items()[index])
        try:
            return self._items()[index]
        except IndexError:
            raise IndexError(f"ModuleList: index {index} is out of range for {len(self)} "
                             f"modules") from None

    def __setitem__(self, index: int, module: Module) -> None:
        name = str(range(len(self))[index])
        self._registry("_modules")[name] = module

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("ModuleList has no forward: iterate over it in your module's "
                                  "forward (for layer in self.layers: x = layer(x))")


class ModuleDict(Module):
    """A dict of modules, each registered under its key."""

    def __init__(self, modules: Mapping[str, Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        pairs = modules.items() if isinstance(modules, Mapping) else modules
        for key, m in pairs:
            self[key] = m

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __getitem__(self, key: str) -> Module:
        return self._registry("_modules")[key]

    def __delitem__(self, key: str) -> None:
        del self._registry("_modules")[key]

    def __contains__(self, key: object) -> bool:
        return key in self._registry("_modules")

    def __len__(self) -> int:
        return len(self._registry("_modules"))

    def __iter__(self) -> Iterator[str]:
        return iter(self._registry("_modules"))

    def keys(self) -> Any:
        return self._registry("_modules").keys()

    def values(self) -> Any:
        return self._registry("_modules").values()

    def items(self) -> Any:
        return self._registry("_modules").items()

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("ModuleDict has no forward: pick modules from it by key in "
                                  "your module's forward")


class ParameterList(Module):
    """A list of parameters, each registered under its position."""

    def __init__(self, parameters: Iterable[Any] | None = None) -> None:
        super().__init__()
        for p in parameters or ():
            self.append(p)

    def append(self, value: Any) -> ParameterList:
        param = value if isinstance(value, Parameter) else Parameter(value)
        self.register_parameter(str(len(self)), param)
        return self

    def __len__(self) -> int:
        return len(self._registry("_parameters"))

    def __iter__(self) -> Iterator[Parameter]:
        return iter(self._registry("_parameters").values())

    def __getitem__(self, index: int) -> Parameter:
        return list(self._registry("_parameters").values())[index]


class ParameterDict(Module):
    """A dict of parameters, each registered under its key."""

    def __init__(self, parameters: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        for key, value in (parameters or {}).items():
            self[key] = value

    def __setitem__(self, key: str, value: Any) -> None:
        param = value if isinstance(value, Parameter) else Parameter(value)
        self.register_parameter(key, param)

    def __getitem__(self, key: str) -> Parameter:
        return self._registry("_parameters")[key]

    def __contains__(self, key: object) -> bool:
        return key in self._registry("_parameters")

    def __len__(self) -> int:
        return len(self._registry("_parameters"))

    def __iter__(self) -> Iterator[str]:
        return iter(self._registry("_parameters"))

    def keys(self) -> Any:
        return self._registry("_parameters").keys()

    def items(self) -> Any:
        return self._registry("_parameters").items()
