"""Rich progress bars, quiet when asked or when output is not a terminal."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def progress_bar(enabled: bool = True) -> Progress:
    return Progress(
        # Descriptions hold file and dataset names: shown as written, never as markup.
        TextColumn("{task.description}", style="bold", markup=False), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[status]}"),
        disable=not enabled, transient=False,
    )


@contextmanager
def counter(enabled: bool, description: str, total: int) -> Iterator[Callable[[], None]]:
    """One progress bar of `total` steps; yields the function that advances it by one."""
    with progress_bar(enabled) as progress:
        task = progress.add_task(description, total=total, status="")
        yield lambda: progress.advance(task)
