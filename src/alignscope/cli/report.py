"""`alignscope table`: compare finetune runs in a paper-ready table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from alignscope.cli._app import app, run_guarded, split_list
from alignscope.io import atomic_write_text


@app.command()
def table(
    runs: Annotated[list[Path], typer.Argument(help="Run directories; the first is the reference.")],
    labels: Annotated[str | None, typer.Option(help="Comma-separated column labels.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="markdown | csv | latex.")] = "markdown",
    out: Annotated[Path | None, typer.Option(help="Write the table to this file.")] = None,
) -> None:
    """Scores of several runs side by side, with the change against the first run."""

    def body() -> None:
        from alignscope.report.tables import transfer_table

        text = transfer_table(list(runs), split_list(labels) or None).render(fmt)
        if out is not None:
            atomic_write_text(out, text)
        typer.echo(text, nl=False)

    run_guarded(body)
