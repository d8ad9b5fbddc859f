"""The options of `alignscope table` and `alignscope report` (light: nothing here imports
matplotlib or torch)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field

from alignscope.config import Flag, Folder, NameList, Overwrite, Text, options
from alignscope.experiments.options import SweepFolder

TABLE_SUFFIXES = {"markdown": ".md", "csv": ".csv", "latex": ".tex"}


@options(frozen=True)
class TableConfig(Overwrite):
    """`alignscope table`: finetune runs side by side, or an analysis run per layer."""

    runs: Annotated[list[Path], Field(min_length=1), Flag(argument=True, metavar="RUNS")] = Field(
        description="finetune run folders or result files (results.json, evaluation.json; "
                    "the first is the reference), or similarity/stability runs.")
    labels: Annotated[NameList, Flag(metavar="NAMES")] | None = Field(
        None, description="finetune runs: the column labels, comma-separated.")
    measure: Annotated[Text, Flag(metavar="NAME")] | None = Field(
        None, description="Analysis runs: the measure (default: the run's first).")
    condition: Annotated[Text, Flag(metavar="NAME")] | None = Field(
        None, description="Analysis runs: parallel / paired (the default) or a control.")
    layers: Annotated[Text, Flag(metavar="LAYERS")] | None = Field(
        None, description="Analysis runs: the layers to show, e.g. embeddings,block.5,block.11 (default: "
                           "all).")
    format: Literal["markdown", "csv", "latex"] = Field("markdown", description="Table "
                                                        "format.")
    out: Folder | None = Field(None, description="Also write the table into this folder, as "
                             "table.md, table.csv or table.tex.")


@options(frozen=True)
class ReportConfig(SweepFolder):
    """`alignscope report`: a sweep's tables and figures."""

    out: Folder = Field(Path("report"), description="Report folder: report.md, report.html "
                      "(self-contained), figures/, tables/.")
