"""alignscope: dissect how multilingual encoders achieve zero-shot cross-lingual transfer.

The public API is imported lazily so that `import alignscope` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "finetune": "alignscope.training.finetune",
    "evaluate": "alignscope.training.evaluate",
    "FinetuneConfig": "alignscope.training.config",
    "load_encoder": "alignscope.models.encoder",
    "reinitialize": "alignscope.models.reinit",
    "parse_layers": "alignscope.layer_names",
    "read_conllu": "alignscope.data.conllu",
    "resolve": "alignscope.data.registry",
    "get_task": "alignscope.tasks",
    "run_sweep": "alignscope.experiments.sweep",
    "render_report": "alignscope.report.render",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'alignscope' has no attribute {name!r}")
