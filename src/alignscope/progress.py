"""Progress display, in one place: rich bars on a terminal, plain log lines elsewhere (log
files, CI, `nohup`), nothing when asked to be quiet."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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

# Read by the Hugging Face libraries when they are imported, in this process and in every
# worker it starts (workers inherit the environment).
_BARS_OFF = {"HF_HUB_DISABLE_PROGRESS_BARS": "1", "HF_DATASETS_DISABLE_PROGRESS_BARS": "1"}


def quiet_third_party(quiet: bool = False, stream: TextIO | None = None) -> None:
    """Other libraries' progress bars (transformers' "Loading weights" and "Writing model
    shards", datasets', the hub's) off when `stream` (stderr) is not a terminal, where each
    is a line of carriage returns in a log; `quiet` also turns them off on a terminal and
    hides transformers' info and warnings. alignscope's own progress is not affected."""
    terminal = (stream or sys.stderr).isatty()
    if terminal and not quiet:
        return
    os.environ.update(_BARS_OFF)
    if quiet:
        os.environ["TRANSFORMERS_VERBOSITY"] = "error"
    if "transformers" in sys.modules:  # imported already: it read the environment before
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        if quiet:
            hf_logging.set_verbosity_error()
    if "datasets" in sys.modules:
        import datasets

        datasets.disable_progress_bars()


def progress_bar(enabled: bool = True, console: Console | None = None) -> Progress:
    return Progress(
        # Descriptions hold file and dataset names: shown as written, never as markup.
        TextColumn("{task.description}", style="bold", markup=False), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
        TextColumn("{task.fields[status]}", markup=False),
        console=console, disable=not enabled, transient=False,
    )


@contextmanager
def counter(enabled: bool, description: str, total: int) -> Iterator[Callable[[], None]]:
    """One progress bar of `total` steps; yields the function that advances it by one."""
    with progress_bar(enabled) as progress:
        task = progress.add_task(description, total=total, status="")
        yield lambda: progress.advance(task)


class JobProgress:
    """Jobs done / total with the ones in progress and an ETA: a live bar above the log on a
    terminal, one timestamped line per event otherwise; `enabled=False`: silent."""

    def __init__(self, description: str, total: int, enabled: bool | None = None,
                 stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        console = Console(file=self.stream)
        self.enabled = enabled is not False
        live = self.enabled and (console.is_terminal if enabled is None else enabled)
        self.total, self.done = total, 0
        self.current: dict[str, float] = {}  # job -> start time
        self.progress = progress_bar(console=console) if live else None
        if self.progress is not None:
            self.task = self.progress.add_task(description, total=total, status="")

    def __enter__(self) -> JobProgress:
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.progress is not None:
            self.progress.stop()

    def log(self, message: str) -> None:
        if self.progress is not None:
            self.progress.console.print(message, markup=False, highlight=False)
        elif self.enabled:
            print(f"{time.strftime('%H:%M:%S')} {message}", file=self.stream, flush=True)

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
            self.progress.update(self.task, status=", ".join(self.current)[:80])
