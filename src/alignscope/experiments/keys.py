"""Run keys: a hash of a run's resolved configuration and of the results version.

Runtime settings (device, threads, the feature cache) are not part of a run's configuration:
they change where and how fast a run goes, not what it computes. `RESULTS_EPOCH` is bumped when
a change to alignscope alters the results of an unchanged configuration; patch releases keep
keys (and finished runs) valid.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from alignscope.training.config import RUNTIME_FIELDS as FINETUNE_RUNTIME

RESULTS_EPOCH = 1
RUNTIME_FIELDS = FINETUNE_RUNTIME | {"cache"}


def results_version() -> str:
    """The part of the alignscope version that matters for results: major.minor + epoch."""
    from alignscope import __version__

    major_minor = ".".join(__version__.split(".")[:2])
    return f"{major_minor}/{RESULTS_EPOCH}"


def without_runtime(config: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in config.items() if key not in RUNTIME_FIELDS}


def run_key(kind: str, config: dict[str, Any]) -> str:
    """16 hex digits of sha256 over the canonical JSON of kind, configuration and version."""
    text = json.dumps({"kind": kind, "config": config, "alignscope": results_version()},
                      sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
