"""Tables from `similarity` and `stability` runs: one row per language, one column per layer.

One run: each cell is the value, with its confidence interval when the run has one. Several
runs of the same kind (e.g. a pretrained and a fine-tuned model): each cell lists the runs'
values in order, `0.821 → 0.760`, the layout of a before/after comparison.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alignscope.errors import AlignscopeError, ConfigError, UnknownNameError
from alignscope.layer_names import parse_layers
from alignscope.report.tables import render_table
from alignscope.runs import LAYER_KINDS, load_run

MAIN_CONDITION = {"similarity": "parallel", "stability": "paired"}


@dataclass
class LayerTable:
    caption: str
    layers: list[str]
    rows: list[list[str]]  # language, then one cell per layer

    def render(self, fmt: str = "markdown") -> str:
        return render_table(["language", *self.layers], self.rows, fmt, self.caption)


def layer_table(runs: list[str | Path], measure: str | None = None,
                condition: str | None = None, layers: str | None = None) -> LayerTable:
    """`layers`: a layer spec (`embeddings,block.5,block.11`; docs/layers.md), default all."""
    if not runs:
        raise AlignscopeError("give at least one run")
    results = [load_run(run, LAYER_KINDS).data for run in runs]
    kinds = {r["kind"] for r in results}
    if len(kinds) > 1:
        raise AlignscopeError("mix of similarity and stability runs; tabulate one kind at a time")
    kind = kinds.pop()
    measure = measure or results[0]["measures"][0]
    condition = condition or MAIN_CONDITION[kind]
    for run, result in zip(runs, results, strict=True):
        if measure not in result["results"]:
            raise UnknownNameError(f"measure in {run}", measure, list(result["results"]))
        if condition not in result["results"][measure]:
            raise UnknownNameError(f"condition in {run}", condition,
                                   list(result["results"][measure]))
    available: list[str] = results[0]["layers"]
    try:
        chosen = available if layers is None else parse_layers(layers).names
    except ConfigError as error:
        raise ConfigError(f"--layers {layers!r}: {error.message}", error.hint) from None
    missing = [layer for layer in chosen if layer not in available]
    if missing:
        raise AlignscopeError(f"layer {missing[0]} is not in the runs (layers "
                              f"{available[0]} ... {available[-1]})")
    languages = list(results[0]["results"][measure][condition])
    rows = [[lang, *(_cell(results, measure, condition, lang, available.index(layer))
                     for layer in chosen)]
            for lang in languages]
    subject = f"{results[0]['source_language']} vs target" if kind == "similarity" \
        else "pretrained vs fine-tuned"
    return LayerTable(f"{measure} ({condition}), {subject}", chosen, rows)


def _cell(results: list[dict[str, Any]], measure: str, condition: str, lang: str,
          layer: int) -> str:
    values = [r["results"][measure][condition].get(lang) for r in results]
    numbers = ["–" if v is None or v[layer] is None else f"{v[layer]:.3f}" for v in values]
    if len(results) > 1:
        return " → ".join(numbers)
    interval = (results[0].get("intervals", {}).get(measure, {}).get(lang) or [None] * (layer + 1))
    bounds = interval[layer] if condition == MAIN_CONDITION[results[0]["kind"]] else None
    if bounds and None not in bounds:
        return f"{numbers[0]} [{bounds[0]:.3f}, {bounds[1]:.3f}]"
    return numbers[0]
