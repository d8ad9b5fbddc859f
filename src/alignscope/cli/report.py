"""`alignscope table` (paper-ready tables of runs) and `alignscope report` (a sweep's report)."""

from __future__ import annotations

import typer

from alignscope.cli._app import app, command
from alignscope.config import check_out_folder
from alignscope.errors import ConfigError
from alignscope.report.options import TABLE_SUFFIXES, ReportConfig, TableConfig


@command(app, TableConfig)
def table(config: TableConfig) -> None:
    """Scores of finetune runs side by side with deltas against the first, or an analysis
    run's values per language and layer (several runs: `before → after`)."""
    from alignscope.io import atomic_write_text
    from alignscope.report.layer_tables import LAYER_KINDS, layer_table
    from alignscope.report.tables import transfer_table
    from alignscope.runs import load_run

    for run in config.runs:
        if not run.exists():
            raise ConfigError(f"run {run} not found", "pass finetune, similarity or "
                              "stability --out folders (or their JSON files)")
    target = None
    if config.out is not None:
        target = check_out_folder(config.out) / f"table{TABLE_SUFFIXES[config.format]}"
        if target.exists() and not config.overwrite:
            raise ConfigError(f"{target} already exists", "pass --overwrite to replace it, or "
                              "choose another --out")
    if load_run(config.runs[0]).kind in LAYER_KINDS:
        text = layer_table(list(config.runs), config.measure, config.condition,
                           config.layers).render(config.format)
    else:
        text = transfer_table(list(config.runs), config.labels or None).render(config.format)
    if target is not None:
        atomic_write_text(target, text)
    typer.echo(text, nl=False)


@command(app, ReportConfig)
def report(config: ReportConfig) -> None:
    """The paper's tables and figures from a sweep, as Markdown and one self-contained HTML."""
    from alignscope.report.render import render_report

    paths = render_report(config.sweep, config.out)
    typer.echo(f"report: {paths['html']} (Markdown: {paths['markdown']})")
