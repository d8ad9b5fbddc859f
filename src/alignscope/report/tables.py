"""Tables from `finetune` (or `evaluate`) results: one row per evaluated dataset, one column per
run, with the change against the first (reference) run — the layout of the paper's RANDOM-INIT
tables. Columns are labelled REF or `RI <layers>` from what each result says of its model."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from alignscope.errors import AlignscopeError
from alignscope.runs import TRANSFER_KINDS, load_run
from alignscope.tasks.metrics import metric_label

FORMATS = ("markdown", "csv", "latex")


@dataclass
class TransferTable:
    metric: str
    labels: list[str]
    rows: list[tuple[str, list[float | None]]]  # dataset -> score per run (0-100)

    def render(self, fmt: str = "markdown") -> str:
        header = ["dataset", *(self.labels[:1]), *(f"{label} (Δ)" for label in self.labels[1:])]
        body = []
        for dataset, scores in self.rows:
            reference = scores[0]
            cells = [_number(reference)]
            for score in scores[1:]:
                delta = None if score is None or reference is None else score - reference
                cells.append(f"{_number(score)} ({_signed(delta)})")
            body.append([dataset, *cells])
        return render_table(header, body, fmt, f"{metric_label(self.metric)} ×100")


def render_table(header: list[str], body: list[list[str]], fmt: str, caption: str) -> str:
    """Markdown (with the caption above), CSV or a booktabs LaTeX tabular."""
    if fmt not in FORMATS:
        raise AlignscopeError(f"unknown table format {fmt!r}", f"use one of {', '.join(FORMATS)}")
    if fmt == "csv":
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows([header, *body])
        return buffer.getvalue()
    if fmt == "latex":
        lines = [f"% {caption}", r"\begin{tabular}{l" + "r" * (len(header) - 1) + "}",
                 r"\toprule", " & ".join(map(_latex, header)) + r" \\", r"\midrule"]
        lines += [" & ".join(map(_latex, row)) + r" \\" for row in body]
        return "\n".join([*lines, r"\bottomrule", r"\end{tabular}"]) + "\n"
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return f"{caption}\n\n" + "\n".join(lines) + "\n"


def transfer_table(runs: list[str | Path], labels: list[str] | None = None) -> TransferTable:
    """Compare runs of one task; the first run is the reference for the deltas."""
    if not runs:
        raise AlignscopeError("give at least one run")
    read = [load_run(run, TRANSFER_KINDS) for run in runs]
    loaded = [run.data for run in read]
    metrics = {r["metric"] for r in loaded}
    if len(metrics) > 1:
        raise AlignscopeError(f"runs report different metrics ({', '.join(sorted(metrics))}); "
                              "compare runs of one task")
    if labels is not None and len(labels) != len(loaded):
        raise AlignscopeError(f"{len(labels)} labels for {len(loaded)} runs")
    metric = metrics.pop()
    datasets: list[str] = []
    for results in loaded:
        datasets += [e["dataset"] for e in results["evaluations"] if e["dataset"] not in datasets]
    rows = []
    for dataset in datasets:
        scores = []
        for results in loaded:
            entry = next((e for e in results["evaluations"] if e["dataset"] == dataset), None)
            scores.append(None if entry is None else 100 * float(entry["metrics"][metric]))
        rows.append((dataset, scores))
    return TransferTable(metric, labels or [run.label for run in read], rows)


_LATEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
          "_": r"\_", "{": r"\{", "}": r"\}", "Δ": r"$\Delta$", "→": r"$\to$",
          "–": "--", "×": r"$\times$"}


def _latex(cell: str) -> str:
    return "".join(_LATEX.get(char, char) for char in cell)


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _signed(value: float | None) -> str:
    return "–" if value is None else f"{value:+.2f}"
