"""Live progress of a sweep: a rich bar (runs done/total, current runs, ETA) on a terminal,
one plain line per event otherwise (logs, CI, `nohup`)."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class SweepDisplay:
    def __init__(self, total: int, enabled: bool | None = None,
                 stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.console = Console(file=self.stream)
        live = self.console.is_terminal if enabled is None else enabled
        self.enabled = enabled is not False
        self.total, self.done = total, 0
        self.current: dict[str, float] = {}
        self.progress: Progress | None = None
        if live and self.enabled:
            self.progress = Progress(
                TextColumn("[bold]sweep"), BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                TextColumn("{task.fields[current]}"), console=self.console, transient=False)
            self.task = self.progress.add_task("sweep", total=total, current="")

    def __enter__(self) -> SweepDisplay:
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.progress is not None:
            self.progress.stop()

    def log(self, message: str) -> None:
        if not self.enabled:
            return
        if self.progress is not None:
            self.progress.console.print(message, markup=False, highlight=False)
        else:
            stamp = time.strftime("%H:%M:%S")
            print(f"{stamp} {message}", file=self.stream, flush=True)

    def started(self, name: str, where: str) -> None:
        self.current[name] = time.perf_counter()
        self.log(f"[{self.done}/{self.total}] start {name} ({where})")
        self._refresh()

    def finished(self, name: str, status: str, detail: str = "") -> None:
        began = self.current.pop(name, None)
        self.done += 1
        took = f" in {time.perf_counter() - began:.1f} s" if began is not None else ""
        self.log(f"[{self.done}/{self.total}] {status} {name}{took}{': ' + detail if detail else ''}")
        if self.progress is not None:
            self.progress.advance(self.task)
        self._refresh()

    def _refresh(self) -> None:
        if self.progress is not None:
            running = ", ".join(self.current)
            self.progress.update(self.task, current=running[:80])
