"""Error types: every user-facing failure names what is wrong and how to fix it.

An error carries a `message` (what is wrong, and where) and a `hint` (what to do); the CLI
prints them on two lines and exits with status 2.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

# "...; pass the --out folder of ...": the advice after the last `; <verb>` of a message.
_ADVICE = re.compile(r";\s+(?=(?:pass|use|run|choose|set|give|check|name|write|add|remove|"
                     r"install|convert|fix|re-run|put|omit|drop|select|try|rename|delete)\b)")


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
        if not hint:  # older messages carry their advice after a semicolon
            parts = _ADVICE.split(message)
            if len(parts) > 1:
                message, hint = "; ".join(parts[:-1]), parts[-1]
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


class ConfigError(AlignscopeError):
    """An option or configuration value is invalid."""

    default_hint = "change the option on the command line or in the --config file " \
                   "(`alignscope COMMAND --help` lists them)"
