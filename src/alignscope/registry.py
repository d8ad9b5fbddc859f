"""Named things the user picks by name (tasks, dataset schemes, measures, poolings, controls,
presets): one small registry type, so every unknown name fails the same way, with the close
matches and the available names.

Built-in entries are declared lazily, as lm-evaluation-harness declares its tasks: a name and
where its object lives, `"module:attribute"`, imported on first use. A registry therefore lists
its names, and options are checked against them, without importing torch or any entry's module
(`alignscope --help` and `sweep --dry-run` stay fast). `register` adds an object directly, e.g.
a plug-in task: `@TASKS.register("chunking")`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar, overload

from alignscope.errors import UnknownNameError

T = TypeVar("T")


@dataclass(frozen=True)
class _Lazy:
    target: str  # "package.module:attribute"


class Registry(Generic[T]):
    """An ordered mapping name -> object; `kind` names what it holds in error messages."""

    def __init__(self, kind: str, lazy: Mapping[str, str] | None = None) -> None:
        self.kind = kind
        self._items: dict[str, T | _Lazy] = {}
        for name, target in (lazy or {}).items():
            self.register_lazy(name, target)

    @overload
    def register(self, name: str) -> Callable[[T], T]: ...
    @overload
    def register(self, name: str, item: T) -> T: ...

    def register(self, name: str, item: T | None = None) -> T | Callable[[T], T]:
        """`registry.register("x", obj)`, or `@registry.register("x")` on a class or function."""
        if item is None:
            return lambda decorated: self.register(name, decorated)
        self._add(name, item)
        return item

    def register_lazy(self, name: str, target: str) -> None:
        """Declare `name` as the object at `target`, "package.module:attribute"."""
        module, sep, attribute = target.partition(":")
        if not sep or not module or not attribute:
            raise ValueError(f"{self.kind} {name!r}: {target!r} is not 'module:attribute'")
        self._add(name, _Lazy(target))

    def _add(self, name: str, item: T | _Lazy) -> None:
        if name in self._items:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._items[name] = item

    def __getitem__(self, name: str) -> T:
        try:
            item = self._items[name]
        except KeyError:
            raise UnknownNameError(self.kind, name, self.names) from None
        if isinstance(item, _Lazy):
            module, _, attribute = item.target.partition(":")
            item = self._items[name] = getattr(importlib.import_module(module), attribute)
        return item

    def check(self, name: str) -> str:
        """`name` if registered (nothing is imported), else the UnknownNameError."""
        if name not in self._items:
            raise UnknownNameError(self.kind, name, self.names)
        return name

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    @property
    def names(self) -> tuple[str, ...]:
        """Every name, in the order of declaration; nothing is imported."""
        return tuple(self._items)

    def items(self) -> list[tuple[str, T]]:
        return [(name, self[name]) for name in self._items]
