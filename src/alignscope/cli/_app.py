"""The Typer application that every command module registers on."""

from collections.abc import Callable
from typing import TypeVar

import typer
from rich.console import Console
from rich.markup import escape

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
