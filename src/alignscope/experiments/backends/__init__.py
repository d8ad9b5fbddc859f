"""Where a sweep's runs execute: this machine (local.py) or a Ray cluster (ray_backend.py)."""

from __future__ import annotations

from concurrent.futures import Future
from pathlib import Path
from typing import Any, Protocol

from alignscope.experiments.plan import RunSpec


class Backend(Protocol):
    def describe(self) -> dict[str, Any]:
        """Backend name, workers and devices, for the manifest and the report."""

    def free(self) -> bool:
        """Whether a run can start now."""

    def submit(self, run: RunSpec, work: Path) -> Future[Any]:
        """Start `run`; its future's result goes to `finish`."""

    def finish(self, work: Path, result: Any) -> dict[str, Any]:
        """Leave the run's files in `work` and return its record."""

    def close(self) -> None: ...
