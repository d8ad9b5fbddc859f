"""The Typer application that every command module registers on, and its shared helpers."""

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import typer
import yaml
from rich.console import Console
from rich.markup import escape

from alignscope.errors import AlignscopeError, ConfigError

T = TypeVar("T")

app = typer.Typer(
    name="alignscope",
    help="Dissect how multilingual encoders achieve zero-shot cross-lingual transfer.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
data_app = typer.Typer(help="Fetch datasets (UD treebanks, NER corpora).", no_args_is_help=True)
app.add_typer(data_app, name="data")


def run_guarded(action: Callable[[], T]) -> T:
    """Run a command body; user errors become one red line and exit status 2."""
    try:
        return action()
    except AlignscopeError as error:
        Console(stderr=True).print(f"[bold red]error:[/] {escape(str(error))}")
        raise typer.Exit(2) from None


def split_list(value: str | None) -> list[str]:
    """`fr,de, es` -> ['fr', 'de', 'es']."""
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def load_config(path: Path | None, config_class: type) -> dict[str, Any]:
    """Options from a YAML mapping whose keys are `config_class`'s fields."""
    if path is None:
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as error:
        raise ConfigError(f"cannot read the config file {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({error})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config file must be a mapping of option: value")
    known = {f.name for f in dataclasses.fields(config_class)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{path}: unknown option(s) {', '.join(unknown)}; "
                          f"known: {', '.join(sorted(known))}")
    return data


def merge_config(ctx: typer.Context, path: Path | None, config_class: type,
                 field_of: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The command's options as `config_class` fields: flags typed on the command line, over
    the config file, over the flags' defaults.

    Every command parameter named like a field (or mapped to one by `field_of`, e.g.
    `cache` -> `use_cache`) is an option; the others (`out`, `config`) are not.
    """
    field_of = field_of or {}
    fields = {f.name for f in dataclasses.fields(config_class)}
    parameter_of = {field_of.get(name, name): name for name in ctx.params}
    # An unset flag (None) leaves the field to the config class's default.
    options = {field: ctx.params[name] for field, name in parameter_of.items()
               if field in fields and ctx.params[name] is not None}
    for key, value in load_config(path, config_class).items():
        source = ctx.get_parameter_source(parameter_of.get(key, key))
        # By name: Typer may carry its own copy of click's ParameterSource enum.
        if getattr(source, "name", None) not in ("COMMANDLINE", "ENVIRONMENT"):
            options[key] = value
    return options


def as_names(value: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...] | None:
    """A comma-separated flag or a YAML list, as a tuple (None stays None)."""
    if value is None:
        return None
    return tuple(split_list(value) if isinstance(value, str) else value)
