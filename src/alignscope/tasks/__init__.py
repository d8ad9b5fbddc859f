"""Fine-tuning tasks, registered by name (`pos`, `parsing`, `ner`).

The registry names the built-in tasks without importing them (they need torch and seqeval):
`TASKS.names` and `TASKS.check` are free, `get_task` imports the one it builds.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from alignscope.registry import Registry

if TYPE_CHECKING:
    from alignscope.tasks.base import Task

TASKS: Registry[type[Task]] = Registry("task", {
    "pos": "alignscope.tasks.pos:PosTagging",
    "parsing": "alignscope.tasks.parsing:DependencyParsing",
    "ner": "alignscope.tasks.ner:NamedEntityRecognition",
})


def register_task(cls: type[Task]) -> type[Task]:
    """Add a task class (a plug-in) under its `name`."""
    return TASKS.register(cls.name, cls)


def get_task(name: str, **options: Any) -> Task:
    """Instantiate a registered task; `options` are its constructor's keyword arguments."""
    return TASKS[name](**options)


_BASE = ("IGNORE_INDEX", "Labels", "Task")
__all__ = ["TASKS", "get_task", "register_task", *_BASE]


def __getattr__(name: str) -> Any:
    if name in _BASE:
        return getattr(importlib.import_module("alignscope.tasks.base"), name)
    raise AttributeError(f"module 'alignscope.tasks' has no attribute {name!r}")
