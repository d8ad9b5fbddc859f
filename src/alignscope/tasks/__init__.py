"""Fine-tuning tasks, registered by name (`pos`, `parsing`, `ner`)."""

from alignscope.tasks.base import IGNORE_INDEX, TASKS, Labels, Task, get_task, register_task

__all__ = ["IGNORE_INDEX", "TASKS", "Labels", "Task", "get_task", "register_task"]
