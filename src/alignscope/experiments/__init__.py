"""Experiments: a whole study from one YAML file, run as a resumable sweep (docs/experiments.md).

    from alignscope.experiments import run_sweep, sweep_status
    run_sweep("configs/small/pos.yaml", "runs/small-pos", overrides=["seeds=[1]"])
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {"run_sweep": "alignscope.experiments.sweep",
            "sweep_status": "alignscope.experiments.sweep",
            "prepare": "alignscope.experiments.sweep",
            "load_spec": "alignscope.experiments.spec",
            "plan": "alignscope.experiments.plan",
            "write_tables": "alignscope.experiments.aggregate"}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'alignscope.experiments' has no attribute {name!r}")
