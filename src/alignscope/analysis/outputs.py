"""Shared pieces of analysis outputs: run folders written whole (result, CSV tables, figures)
or not at all."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from alignscope.config import check_out_folder
from alignscope.errors import ConfigError
from alignscope.io import atomic_directory, atomic_write_text
from alignscope.runs import write_result


def check_out(out: str | Path | None, overwrite: bool) -> Path | None:
    """Refuse, before any work, to replace a non-empty folder unless asked."""
    if out is None:
        return None
    out = check_out_folder(out)
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise ConfigError(f"--out {out} already holds results", "pass --overwrite to replace them")
    return out


def finite(value: float | None) -> float | None:
    """JSON has no NaN: an undefined value is written as null."""
    if value is None or math.isnan(value) or math.isinf(value):
        return None
    return float(value)


def clean(data: Any) -> Any:
    """Recursively replace NaN/inf floats by None."""
    if isinstance(data, float):
        return finite(data)
    if isinstance(data, Mapping):
        return {key: clean(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [clean(value) for value in data]
    return data


def layer_table(layers: Sequence[str], columns: Mapping[str, Sequence[float | None]]) -> str:
    """CSV with one row per layer and one column per language (empty cell: undefined)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["layer", *columns])
    for index, layer in enumerate(layers):
        cells = [columns[name][index] for name in columns]
        writer.writerow([layer, *("" if v is None else f"{v:.6f}" for v in cells)])
    return buffer.getvalue()


Results = Mapping[str, Mapping[str, Mapping[str, Sequence[float | None]]]]


def condition_tables(layers: Sequence[str], results: Results, main: str | None,
                     prefix: str = "") -> dict[str, str]:
    """One CSV per measure and condition: `KEY.csv` for the main condition (None: every
    condition gets a suffix), `KEY.CONDITION.csv` for the others."""
    return {f"{prefix}{key}{'' if condition == main else '.' + condition}.csv":
            layer_table(layers, columns)
            for key, by_condition in results.items()
            for condition, columns in by_condition.items()}


def aggregate_table(aggregates: Mapping[str, Mapping[str, Mapping[str, Mapping[str, Any]]]],
                    ) -> str:
    """CSV of the mean and maximum over layers: one row per measure, condition and language."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["measure", "condition", "language", "mean", "max", "max_layer"])
    for key, by_condition in aggregates.items():
        for condition, by_lang in by_condition.items():
            for lang, summary in by_lang.items():
                writer.writerow([key, condition, lang,
                                 *("" if summary[f] is None else f"{summary[f]:.6f}"
                                   for f in ("mean", "max")),
                                 "" if summary["max_layer"] is None else summary["max_layer"]])
    return buffer.getvalue()


def write_run(out: Path, result: dict[str, Any], tables: Mapping[str, str],
              files: Callable[[Path], None] | None = None) -> None:
    """The JSON, the CSV tables, the figures and any `files` (written by the callback into the
    folder: a tuned lens, activation tensors) appear in `out` together, or nothing does."""
    from alignscope.analysis.figures import draw  # matplotlib: only when a run is written

    with atomic_directory(out) as folder:
        if files is not None:
            files(folder)
        write_result(folder, result)
        for name, text in tables.items():
            atomic_write_text(folder / name, text)
        draw(folder, result)
