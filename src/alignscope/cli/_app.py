"""The Typer application every command module registers on, how a command is made from its
option classes (`command`), and the plain help every command prints.

A command is a function of its option objects, registered with the classes that declare them:

    @command(app, FinetuneConfig, FinetuneOutput, Progress)
    def finetune(config: FinetuneConfig, output: FinetuneOutput, progress: Progress) -> None:
        '''Fine-tune on a source language ...'''

Its parameters are derived from the classes' fields (`alignscope.config.option_fields`): each
field is a flag `--field-name` (or what its `Flag` says) with the field's description as help and
its default shown, plus `--config FILE` (a YAML file of the same options). Flags typed on the
command line win over the file, the file over the defaults. Nothing here imports torch.
"""

from __future__ import annotations

import inspect
import textwrap
import traceback
import typing
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from typer.core import TyperCommand, TyperGroup

from alignscope.config import OptionField, from_sources, option_fields
from alignscope.errors import AlignscopeError, Deprecated

T = TypeVar("T")

# Commands in the order of the workflow, in `alignscope --help` and docs/cli.md; a command not
# listed comes after them.
WORKFLOW = ("data", "finetune", "evaluate", "similarity", "stability", "correlate", "lens",
            "neurons", "merge", "table", "sweep", "report", "lab", "demo")
CONFIG_HELP = ("YAML file of these options (keys: the option names, `_` for `-`); options typed "
               "here win over it.")
NBSP = "\u00a0"
REPORT = ("this is a bug in alignscope, not a problem with your input: please report it with "
          "the command you ran and the traceback above")


def _first_paragraph(text: str | None) -> str:
    return " ".join(inspect.cleandoc(text or "").split("\n\n")[0].split())


def write_text(formatter: Any, text: str | None) -> None:
    """A docstring as paragraphs, each wrapped between words (never at a hyphen)."""
    paragraphs = [" ".join(part.split()) for part in inspect.cleandoc(text or "").split("\n\n")]
    if not any(paragraphs):
        return
    formatter.write_paragraph()
    with formatter.indentation():
        indent = " " * formatter.current_indent
        wrapper = textwrap.TextWrapper(width=formatter.width, initial_indent=indent,
                                       subsequent_indent=indent, break_on_hyphens=False,
                                       break_long_words=False)
        formatter.write("\n\n".join(wrapper.fill(part) for part in paragraphs if part) + "\n")


class Command(TyperCommand):
    """Plain help: each option with its value's shape (N, DIR, a|b), never a type label; its
    help wrapped at word boundaries, then its default or [required]; no markup, so `[big]` and
    `{lang}` print as written. `fields` (set per command) are the options it was derived from."""

    fields: dict[str, OptionField] = {}  # noqa: RUF012 (replaced per command, never mutated)
    classes: tuple[type, ...] = ()  # the option classes, in the order the body takes them

    def get_short_help_str(self, limit: int = 45) -> str:
        return _first_paragraph(self.help)

    def format_help_text(self, ctx: typer.Context, formatter: Any) -> None:
        write_text(formatter, self.help)

    def collect_usage_pieces(self, ctx: typer.Context) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                field = self.fields.get(str(param.name))
                label = _argument_label(param)
                pieces.append(label if field is not None and field.required else f"[{label}]")
        return pieces

    def format_options(self, ctx: typer.Context, formatter: Any) -> None:
        rows: dict[str, list[tuple[str, str]]] = {"Arguments": [], "Options": []}
        for param in self.get_params(ctx):
            row = _help_row(param, self.fields.get(str(param.name)))
            if row is not None:
                rows["Arguments" if param.param_type_name == "argument" else "Options"].append(row)
        for title, section in rows.items():
            if section:
                with formatter.section(title):
                    write_rows(formatter, section)
        internal = [field.name for field in self.fields.values() if field.flag.internal]
        if internal:
            with formatter.section("In a --config file or Python only"):
                write_rows(formatter, [(name, self.fields[name].description)
                                       for name in internal])


class Group(TyperGroup):
    """A command group with the same plain help; its commands listed in workflow order."""

    def get_short_help_str(self, limit: int = 45) -> str:
        return _first_paragraph(self.help)

    def format_help_text(self, ctx: typer.Context, formatter: Any) -> None:
        write_text(formatter, self.help)

    def list_commands(self, ctx: typer.Context) -> list[str]:
        names = list(self.commands)
        return sorted(names, key=lambda name: (WORKFLOW.index(name) if name in WORKFLOW
                                               else len(WORKFLOW), names.index(name)))

    def format_options(self, ctx: typer.Context, formatter: Any) -> None:
        rows = [row for param in self.get_params(ctx)
                if (row := _help_row(param, None)) is not None]
        if rows:
            with formatter.section("Options"):
                write_rows(formatter, rows)
        commands = [(name, command.get_short_help_str()) for name in self.list_commands(ctx)
                    if not (command := self.commands[name]).hidden]
        if commands:
            with formatter.section("Commands"):
                write_rows(formatter, commands)


def write_rows(formatter: Any, rows: list[tuple[str, str]], column: int = 30) -> None:
    """Two columns, the second wrapped between words only: never inside `torch-default` or a
    path, even if a line runs long."""
    width = min(max(len(name) for name, _ in rows), column) + 2
    indent = formatter.current_indent
    wrapper = textwrap.TextWrapper(width=max(formatter.width - indent - width, 30),
                                   break_on_hyphens=False, break_long_words=False)
    for name, text in rows:
        lines = [line.replace(NBSP, " ") for line in wrapper.wrap(text)] or [""]
        if len(name) + 2 > width:
            formatter.write(f"{'':>{indent}}{name}\n")
            first = f"{'':>{indent + width}}{lines[0]}"
        else:
            first = f"{'':>{indent}}{name:<{width}}{lines[0]}"
        formatter.write(first.rstrip() + "\n")
        for line in lines[1:]:
            formatter.write(f"{'':>{indent + width}}{line}\n")


def _argument_label(param: Any) -> str:
    return f"{param.metavar}..." if param.nargs == -1 else str(param.metavar)


def _help_row(param: Any, field: OptionField | None) -> tuple[str, str] | None:
    """(`--epochs N`, `Passes over the training set. [default: 10]`) for --help."""
    if param.hidden:
        return None
    if param.param_type_name == "argument":
        name = _argument_label(param)
    elif param.secondary_opts:  # a switch: --cache / --no-cache
        name = "--[no-]" + param.opts[0].removeprefix("--")
    else:
        name = param.opts[0] + ("" if param.is_flag or not param.metavar else f" {param.metavar}")
    notes = []
    if isinstance(param.show_default, str) and param.show_default:
        notes.append(f"default: {param.show_default}")
    if field is not None and field.required:
        notes.append("required")
    # No-break spaces keep `[default: x]` on one line when the help is wrapped.
    marks = (f"[{note}]".replace(" ", NBSP) for note in notes)
    return name, " ".join([param.help or "", *marks]).strip()


app = typer.Typer(
    name="alignscope",
    cls=Group,
    help="Dissect how multilingual models achieve zero-shot cross-lingual transfer: fine-tune "
         "with layers re-initialised, measure cross-lingual similarity and stability per "
         "layer, correlate, sweep and report.",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


def group(name: str, help: str, cls: type[Group] = Group) -> typer.Typer:
    """A sub-command group of `app` (`data`, `lab`, `sweep`)."""
    sub = typer.Typer(cls=cls, help=help, no_args_is_help=True, rich_markup_mode=None)
    app.add_typer(sub, name=name)
    return sub


# ---------------------------------------------------------------- commands from option classes

def command(parent: typer.Typer, *classes: type, name: str | None = None,
            ) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register `body(*options)` as a command of `parent`, its parameters derived from the
    fields of `classes` (one option object of each is passed to `body`, in that order)."""

    def decorate(body: Callable[..., None]) -> Callable[..., None]:
        fields = {field.name: field for cls in classes for field in option_fields(cls)}
        flags = [field for field in fields.values() if not field.flag.internal]
        params = [_parameter(field.name, field) for field in flags if field.flag.argument]
        params += [_parameter(field.name, field) for field in flags if not field.flag.argument]
        params += [_parameter(old, field, hidden=True) for field in flags
                   for old in field.flag.old_names]
        params.append(inspect.Parameter(
            "config", inspect.Parameter.KEYWORD_ONLY, default=None,
            annotation=Annotated[Path | None, typer.Option(help=CONFIG_HELP, metavar="FILE",
                                                           show_default=False)]))

        def callback(**values: Any) -> None:
            config = values.pop("config")
            typed = {key: value for key, value in values.items()
                     if value is not None and value != [] and value != ()}
            run_guarded(lambda: body(*from_sources(classes, typed, config)))

        callback.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        callback.__doc__ = body.__doc__
        derived = type(f"{body.__name__.title()}Command", (Command,),
                       {"fields": fields, "classes": classes})
        parent.command(name or body.__name__.replace("_", "-"), cls=derived)(callback)
        return body

    return decorate


def _parameter(name: str, field: OptionField, hidden: bool = False) -> inspect.Parameter:
    """The Typer parameter of `field` (or of its deprecated name `name`, hidden)."""
    kind = field.kind
    flag = "--" + name.replace("_", "-") if hidden else field.spelling
    info: dict[str, Any] = {"help": field.description, "hidden": hidden,
                            "show_default": default_text(field) or False}
    if field.flag.argument:
        value_type: Any = list[str] if _is_list(kind) else str
        marker: Any = typer.Argument(metavar=field.spelling, **info)
    elif kind is bool:
        value_type = bool
        marker = typer.Option(f"{flag}/--no-{flag.removeprefix('--')}", **info)
    else:
        value_type = list[str] if field.flag.multiple else \
            kind if kind in (int, float) else str
        marker = typer.Option(flag, metavar=metavar(field), **info)
    annotation = Annotated[value_type | None, marker]  # type: ignore[operator]
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None,
                             annotation=annotation)


def _is_list(kind: Any) -> bool:
    return typing.get_origin(kind) in (list, tuple)


def metavar(field: OptionField) -> str:
    """How --help shows a field's value: its choices, N (an integer), X (a number), or the
    field's own `Flag(metavar=...)`, else TEXT / PATH / LIST."""
    if field.flag.metavar:
        return field.flag.metavar
    if field.choices:
        return "|".join(str(choice) for choice in field.choices)
    if field.kind is int:
        return "N"
    if field.kind is float:
        return "X"
    if field.kind is Path:
        return "PATH"
    return "LIST" if _is_list(field.kind) else "TEXT"


def default_text(field: OptionField) -> str:
    """The default as --help and docs/cli.md show it ('' for none)."""
    value = field.default
    if field.required or value is None or value in ((), [], {}):
        return ""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, (list, tuple)):
        return ",".join(str(item) for item in value)
    if isinstance(value, dict):
        return ",".join(f"{key}={item}" for key, item in value.items())
    return str(value)


# ---------------------------------------------------------------- running a command body

def report(error: AlignscopeError) -> None:
    """Two plain lines on stderr (no markup: `file.conllu:100:` stays as written)."""
    typer.echo(f"error: {error.message}", err=True)
    if error.hint:
        typer.echo(f"  what to do: {error.hint}", err=True)


def _plain_deprecations(show: Callable[..., None]) -> Callable[..., None]:
    """`warnings.showwarning` that prints a deprecation as one line for the user, not as a
    source location; other warnings go to `show`."""

    def show_warning(message: Warning | str, category: type[Warning], *args: Any,
                     **kwargs: Any) -> None:
        if issubclass(category, Deprecated):
            typer.echo(f"warning: {message}", err=True)
        else:
            show(message, category, *args, **kwargs)

    return show_warning


def run_guarded(action: Callable[[], T]) -> T:
    """Run a command body: a user error becomes two lines and exit status 2; anything else is
    a bug, shown with its traceback and a request to report it (exit status 1). Deprecations
    are shown, each time, as one `warning:` line."""
    from pydantic import ValidationError

    from alignscope.config import describe

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always", Deprecated)
            warnings.showwarning = _plain_deprecations(warnings.showwarning)
            return action()
    except typer.Exit:
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


def console() -> Any:
    """Standard output that prints text as given: no markup, emoji codes or highlighting, so a
    path like `runs/:x:` or `[b]` shows literally."""
    from rich.console import Console

    return Console(markup=False, emoji=False, highlight=False)


def quiet_third_party(quiet: bool) -> None:
    """Other libraries' bars off when stderr is not a terminal; under `quiet` (no progress
    display) also on a terminal, with transformers' info logs (alignscope.progress)."""
    from alignscope.progress import quiet_third_party as silence

    silence(quiet)
