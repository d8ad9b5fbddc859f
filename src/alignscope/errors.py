"""Error types: every user-facing failure names what is wrong and how to fix it.

An error carries a `message` (what is wrong, and where) and a `hint` (what to do); the CLI
prints them on two lines and exits with status 2.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """`; did you mean a, b?` naming the known names close to `name`, or "": every unknown
    name, key and option is answered by this one rule."""
    import difflib

    close = difflib.get_close_matches(name, sorted(set(known)), n=3, cutoff=0.6)
    return f"; did you mean {', '.join(close)}?" if close else ""


class AlignscopeError(Exception):
    """Base class for errors caused by user input (bad files, unknown names, bad options)."""

    default_hint = "correct the input named above (`alignscope COMMAND --help` lists the options)"

    def __init__(self, message: str = "", hint: str = "") -> None:
        super().__init__(f"{message} ({hint})" if hint else message)
        self.message = message
        self.hint = hint or self.default_hint


class DataFormatError(AlignscopeError):
    """A data file is malformed; the message names the file and line."""

    default_hint = "fix the file, or pass another one"

    def __init__(self, path: str | Path, line: int | None, problem: str, fix: str = "") -> None:
        self.path = str(path)
        self.line = line
        self.problem = problem
        self.fix = fix
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {problem}", fix)


class UnknownNameError(AlignscopeError):
    """An unknown dataset, language, task, scheme... with the close matches."""

    default_hint = "check the spelling against the names listed"

    def __init__(self, kind: str, name: str, known: list[str] | tuple[str, ...]) -> None:
        self.kind, self.name = kind, name
        message = f"unknown {kind} {name!r}{did_you_mean(name, known)}"
        if known:
            shown = sorted(known)[:20]
            more = f" (and {len(known) - len(shown)} more)" if len(known) > len(shown) else ""
            message += f"; available: {', '.join(shown)}{more}"
        super().__init__(message)


class Deprecated(FutureWarning):
    """A deprecated option, key or input form: it still works, and the message names the
    release that removes it and what to use instead (a FutureWarning, so users see it)."""


REMOVED_IN = "0.3"  # every deprecated form goes in this release (see docs/cli.md, Deprecations)


def deprecated(old: str, new: str) -> None:
    """Warn that `old` is deprecated in favour of `new`."""
    import warnings

    warnings.warn(f"{old} is deprecated and will be removed in alignscope {REMOVED_IN}; "
                  f"use {new}", Deprecated, stacklevel=3)


class ConfigError(AlignscopeError):
    """An option or configuration value is invalid."""

    default_hint = "change the option on the command line or in the --config file " \
                   "(`alignscope COMMAND --help` lists them)"
