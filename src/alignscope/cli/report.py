"""`alignscope table`: paper-ready tables of finetune runs or of similarity/stability runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from alignscope.cli._app import app, build_options, run_guarded
from alignscope.config import TableConfig, check_out_file
from alignscope.errors import ConfigError
from alignscope.io import atomic_write_text

_SUFFIXES = {"markdown": (".md", ".markdown", ".txt"), "csv": (".csv", ".txt"),
             "latex": (".tex", ".txt")}


@app.command()
def table(
    ctx: typer.Context,
    runs: Annotated[list[Path], typer.Argument(help="finetune run folders or result files "
                                                    "(results.json, evaluation.json; the first "
                                                    "is the reference), or similarity/stability "
                                                    "runs.")],
    labels: Annotated[str | None, typer.Option(help="finetune runs: column labels.")] = None,
    measure: Annotated[str | None, typer.Option(help="Analysis runs: the measure (default: "
                                                     "the run's first).")] = None,
    condition: Annotated[str | None, typer.Option(help="Analysis runs: parallel / paired "
                                                       "(default) or a control.")] = None,
    layers: Annotated[str | None, typer.Option(help="Analysis runs: layers to show, e.g. "
                                                    "embeddings,block.5,block.11 (default: "
                                                    "all).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="markdown | csv | latex.")] = "markdown",
    out: Annotated[Path | None, typer.Option(help="Write the table to this file.")] = None,
) -> None:
    """Scores of finetune runs side by side with deltas against the first, or an analysis
    run's values per language and layer (several runs: `before → after`)."""

    def body() -> None:
        from alignscope.report.layer_tables import LAYER_KINDS, layer_table
        from alignscope.report.tables import transfer_table
        from alignscope.runs import load_run

        settings = build_options(ctx, None, TableConfig)
        for run in settings.runs:
            if not run.exists():
                raise ConfigError(f"run {run} not found", "pass finetune, similarity or "
                                  "stability --out folders (or their JSON files)")
        if settings.out is not None:
            check_out_file(settings.out, suffixes=_SUFFIXES[settings.fmt])
        if load_run(settings.runs[0]).kind in LAYER_KINDS:
            text = layer_table(list(settings.runs), settings.measure, settings.condition,
                               settings.layers).render(settings.fmt)
        else:
            text = transfer_table(list(settings.runs), settings.labels or None
                                  ).render(settings.fmt)
        if settings.out is not None:
            atomic_write_text(settings.out, text)
        typer.echo(text, nl=False)

    run_guarded(body)
