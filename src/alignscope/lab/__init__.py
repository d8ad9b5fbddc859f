"""The lab: synthetic languages (`generate`), their ground-truth dictionary (`read_lexicon`)
and small models pretrained on them (`pretrain`). Imported lazily."""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {"read_lexicon": "alignscope.lab.dictionary", "Lexicon": "alignscope.lab.dictionary"}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'alignscope.lab' has no attribute {name!r}")
