"""Error types: every user-facing failure names what is wrong and how to fix it."""

from __future__ import annotations

from pathlib import Path


class AlignscopeError(Exception):
    """Base class for errors caused by user input (bad files, unknown names, bad options)."""


class DataFormatError(AlignscopeError):
    """A data file is malformed; the message names the file and line."""

    def __init__(self, path: str | Path, line: int | None, problem: str, fix: str = "") -> None:
        self.path = str(path)
        self.line = line
        self.problem = problem
        self.fix = fix
        where = f"{self.path}:{line}" if line is not None else self.path
        message = f"{where}: {problem}"
        if fix:
            message += f" ({fix})"
        super().__init__(message)


class UnknownNameError(AlignscopeError):
    """An unknown dataset, language, task, scheme... with the close matches."""

    def __init__(self, kind: str, name: str, known: list[str] | tuple[str, ...]) -> None:
        import difflib

        self.kind, self.name = kind, name
        close = difflib.get_close_matches(name, list(known), n=5, cutoff=0.5)
        message = f"unknown {kind} {name!r}"
        if close:
            message += f"; did you mean: {', '.join(close)}?"
        if known:
            shown = sorted(known)[:20]
            more = f" (and {len(known) - len(shown)} more)" if len(known) > len(shown) else ""
            message += f"; available: {', '.join(shown)}{more}"
        super().__init__(message)


class ConfigError(AlignscopeError):
    """An option or configuration value is invalid."""
