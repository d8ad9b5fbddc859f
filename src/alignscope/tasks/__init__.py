"""Fine-tuning tasks, registered by name (`pos`, `parsing`, `ner`)."""

from alignscope.tasks import ner, parsing, pos
from alignscope.tasks.base import IGNORE_INDEX, TASKS, Labels, Task, get_task, register_task

__all__ = ["IGNORE_INDEX", "TASKS", "Labels", "Task", "get_task", "ner", "parsing", "pos",
           "register_task"]
