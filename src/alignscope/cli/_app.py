"""The Typer application that every command module registers on, and its shared helpers."""

import dataclasses
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import click
import typer
from pydantic import ValidationError
from rich.console import Console

from alignscope.config import describe, merge
from alignscope.errors import AlignscopeError

T = TypeVar("T")

app = typer.Typer(
    name="alignscope",
    help="Dissect how multilingual encoders achieve zero-shot cross-lingual transfer.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
data_app = typer.Typer(help="Fetch datasets (UD treebanks, NER corpora).", no_args_is_help=True)
app.add_typer(data_app, name="data")


REPORT = ("this is a bug in alignscope, not a problem with your input: please report it with "
          "the command you ran and the traceback above")


def console() -> Console:
    """Standard output that prints text as given: no markup, emoji codes or highlighting, so a
    path like `runs/:x:` or `[b]` shows literally."""
    return Console(markup=False, emoji=False, highlight=False)


def report(error: AlignscopeError) -> None:
    """Two plain lines on stderr (no markup: `file.conllu:100:` stays as written)."""
    typer.echo(f"error: {error.message}", err=True)
    if error.hint:
        typer.echo(f"  what to do: {error.hint}", err=True)


def run_guarded(action: Callable[[], T]) -> T:
    """Run a command body: a user error becomes two lines and exit status 2; anything else is
    a bug, shown with its traceback and a request to report it (exit status 1)."""
    try:
        return action()
    except (typer.Exit, click.exceptions.ClickException, click.exceptions.Abort):
        raise
    except AlignscopeError as error:
        report(error)
    except ValidationError as error:  # an option class built directly, not through `build`
        report(describe(error, type(None)))
    except OSError as error:
        if error.filename is None:
            raise _bug() from error
        what = f"{error.filename}" + (f" -> {error.filename2}" if error.filename2 else "")
        report(AlignscopeError(f"{what}: {error.strerror or error}",
                               "check the path, its permissions and the free disk space"))
    except KeyboardInterrupt:
        typer.echo("interrupted: results of unfinished steps were not written", err=True)
        raise typer.Exit(130) from None
    except Exception as error:
        raise _bug() from error
    raise typer.Exit(2)


def _bug() -> typer.Exit:
    traceback.print_exc()
    typer.echo(f"internal error: {REPORT}", err=True)
    return typer.Exit(1)


def quiet_third_party(quiet: bool) -> None:
    """Under --quiet, or when stderr is not a terminal, other libraries' bars are noise
    (alignscope.progress.quiet_third_party)."""
    from alignscope.progress import quiet_third_party as silence

    silence(quiet)


def build_options(ctx: typer.Context, path: Path | None, config_class: type[T],
                  field_of: Mapping[str, str] | None = None, **extra: Any) -> T:
    """The command's validated options: flags typed on the command line, over the --config
    file, over the flags' defaults (an unset flag, None, defers to the class's default).

    Every command parameter named like a field (or mapped to one by `field_of`, e.g.
    `cache` -> `use_cache`) is an option; the others (`out`, `config`) are not. `extra`
    are fields computed from flags (they count as typed).
    """
    field_of = field_of or {}
    fields = {f.name for f in dataclasses.fields(config_class)}  # type: ignore[arg-type]
    values: dict[str, Any] = {}
    explicit: set[str] = set(extra)
    flags: dict[str, str] = {}
    spelled = {param.name: param.opts[0] if param.param_type_name == "option"
               else str(param.name).upper() for param in ctx.command.params}
    for name, value in ctx.params.items():
        field = field_of.get(name, name)
        if field not in fields:
            continue
        flags[field] = spelled.get(name, "--" + name.replace("_", "-"))
        source = ctx.get_parameter_source(name)
        # By name: Typer may carry its own copy of click's ParameterSource enum.
        if getattr(source, "name", None) in ("COMMANDLINE", "ENVIRONMENT"):
            explicit.add(field)
        if value is not None:
            values[field] = value
    values.update(extra)
    return merge(config_class, values, path, frozenset(explicit), flags)
