"""Tables from `similarity` and `stability` runs: one row per language, one column per layer.

One run: each cell is the value, with its confidence interval when the run has one. Several
runs of the same kind (e.g. a pretrained and a fine-tuned model): each cell lists the runs'
values in order, `0.821 → 0.760`, the layout of a before/after comparison.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alignscope.errors import AlignscopeError, UnknownNameError
from alignscope.io import read_json
from alignscope.report.tables import render_table

RESULT_FILES = {"similarity": "similarity.json", "stability": "stability.json"}
MAIN_CONDITION = {"similarity": "parallel", "stability": "paired"}


def find_analysis(path: str | Path) -> Path | None:
    """The similarity.json / stability.json of a run folder (or the file itself), if any."""
    path = Path(path)
    if path.is_file() and path.name in RESULT_FILES.values():
        return path
    return next((path / name for name in RESULT_FILES.values() if (path / name).is_file()), None)


def load_analysis(path: str | Path) -> dict[str, Any]:
    file = find_analysis(path)
    if file is None:
        raise AlignscopeError(f"no similarity.json or stability.json in {path}; pass the --out "
                              "folder of `alignscope similarity` or `alignscope stability`")
    result = read_json(file)
    if result.get("kind") not in RESULT_FILES:
        raise AlignscopeError(f"{file} is not an alignscope analysis result (no `kind`)")
    return result


@dataclass
class LayerTable:
    caption: str
    layers: list[int]
    rows: list[list[str]]  # language, then one cell per layer

    def render(self, fmt: str = "markdown") -> str:
        return render_table(["language", *(f"layer {layer}" for layer in self.layers)],
                            self.rows, fmt, self.caption)


def layer_table(runs: list[str | Path], measure: str | None = None,
                condition: str | None = None, layers: list[int] | None = None) -> LayerTable:
    if not runs:
        raise AlignscopeError("give at least one run")
    results = [load_analysis(run) for run in runs]
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
    available = results[0]["layers"]
    layers = available if layers is None else layers
    missing = [layer for layer in layers if layer not in available]
    if missing:
        raise AlignscopeError(f"layer {missing[0]} is not in the runs (layers "
                              f"{available[0]}-{available[-1]})")
    languages = list(results[0]["results"][measure][condition])
    rows = [[lang, *(_cell(results, measure, condition, lang, layer) for layer in layers)]
            for lang in languages]
    subject = f"{results[0]['source_language']} vs target" if kind == "similarity" \
        else "pretrained vs fine-tuned"
    return LayerTable(f"{measure} ({condition}), {subject}", list(layers), rows)


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
