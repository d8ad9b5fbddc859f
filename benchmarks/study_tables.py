"""Markdown tables of a whole study (a sweep folder) for BENCHMARKS.md: what `alignscope report`
shows, plus what it leaves out at this size (every measure and control of the pretrained
similarity, its layer aggregates per language, the dev curves, stability per measure, the
cross-lingual similarity before and after fine-tuning).

    python benchmarks/study_tables.py runs/decoder-pos [--majority runs/majority.json] \\
        [--similarity runs/decoder-sim-standardised ...]

Everything is read through the library (`experiments.aggregate.collect`, `runs.load_run`); the
paired deltas, intervals and drops are the sweep's own (results/summary.csv, drops.csv).
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from alignscope.experiments.aggregate import Row, Tables, collect, finished_runs
from alignscope.report.render import (
    drop_cells,
    in_model_order,
    random_init_cell,
    random_init_grid,
)
from alignscope.runs import load_run, part_dir

POINTS = 100


def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def number(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _mean_by(rows: Iterable[Row], key: str) -> dict[Any, float]:
    groups: dict[Any, list[float]] = defaultdict(list)
    for row in rows:
        if row["value"] is not None:
            groups[row[key]].append(row["value"])
    return {k: statistics.fmean(v) for k, v in groups.items()}


def _layers(rows: list[Row]) -> list[str]:
    return [layer for _, layer in sorted({(r["position"], r["layer"]) for r in rows})]


def similarity_tables(result: dict[str, Any]) -> str:
    """Every measure and condition of one similarity result per layer, and its layer
    aggregates per language."""
    measures = [m for m in result["measures"] if not m.endswith(("-forward", "-backward"))]
    conditions = result["conditions"]
    languages = result["target_languages"]
    layers = result["layers"]
    adjust = [name for name in ("standardise", "centre", "partial_length")
              if result["config"].get(name)]
    text = [f"{result['source_language']} vs {len(languages)} languages "
            f"({', '.join(languages)}), {result['parallel']['sentences']} sentences"
            f"{', ' + ', '.join(adjust) if adjust else ''}; mean over the languages "
            "[lowest, highest language]."]
    for measure in measures:
        body = []
        for position, layer in enumerate(layers):
            cells = [layer]
            for condition in conditions:
                values = [curve[position] for curve in
                          result["results"][measure].get(condition, {}).values()
                          if curve[position] is not None]
                cells.append(f"{statistics.fmean(values):.2f} [{min(values):.2f}, "
                             f"{max(values):.2f}]" if values else "–")
            body.append(cells)
        text += [f"\n{measure}:\n", table(["layer", *conditions], body)]
    text.append("\nLayer aggregates of the parallel curves per language (mean over layers; max "
                "and where; the max's half-sample interval):\n")
    header = ["language"] + [f"{m} mean / max (layer)" for m in measures]
    body = []
    for lang in languages:
        cells = [lang]
        for measure in measures:
            agg = result["layer_aggregates"][measure]["parallel"][lang]
            interval = _interval(result, measure, lang, layers.index(agg["max_layer"])
                                 if agg["max_layer"] in layers else None)
            cells.append(f"{number(agg['mean'])} / {number(agg['max'])}{interval} "
                         f"({agg['max_layer']})")
        body.append(cells)
    text.append(table(header, body))
    return "\n".join(text)


def _interval(result: dict[str, Any], measure: str, lang: str, position: int | None) -> str:
    by_lang = result.get("intervals", {}).get(measure, {})
    spans = by_lang.get("parallel", by_lang).get(lang) if isinstance(by_lang, dict) else None
    if position is None or not spans or not isinstance(spans, list):
        return ""
    span = spans[position]
    return f" [{span[0]:.2f}, {span[1]:.2f}]" if span and None not in span else ""


def similarity_results(out: Path, extra: Sequence[Path] = ()) -> list[dict[str, Any]]:
    """The sweep's pretrained similarity (when finished), then each `extra` result folder."""
    folders = [part_dir(folder, "similarity") for record, folder in finished_runs(out)
               if record["name"] == "similarity-pretrained"]
    return [load_run(folder, "similarity").data for folder in [*folders, *extra]]


def pos_tables(tables: Tables, majority: dict[str, Any] | None) -> str:
    """The report's RANDOM-INIT and drop cells, transposed (a row per language, for 16 languages),
    with the majority-tag baseline beside them."""
    summary = tables.summary()
    if not summary:
        return ""
    groups, languages, cell = random_init_grid(summary)
    body = []
    for lang in languages:
        base = majority["scores"].get(lang, {}).get("accuracy") if majority else None
        body.append([lang + (" (source)" if cell[(groups[0], lang)]["role"] == "source" else ""),
                     number(None if base is None else POINTS * base, 1),
                     *(random_init_cell(group, cell.get((group, lang))) for group in groups)])
    seeds = sorted({r["seed"] for r in tables.scores})
    text = [f"UPOS accuracy x100, seeds {seeds}; REF: mean ± std over seeds; other groups: mean "
            "(Δ vs REF, paired per seed, [95 % t-interval over seeds]).\n",
            table(["dataset", "majority", *groups], body)]
    drops = {r["group"]: r for r in tables.drops()}
    text += ["\nDrops (REF − group, points), mean over seeds [95 % t-interval]:\n",
             table(["group", "source drop", "target drop (mean of targets)", "target − source"],
                   [[g, *drop_cells(drops[g])] for g in groups if g in drops])]
    return "\n".join(text)


def dev_curves(out: Path) -> str:
    runs = [(record, folder) for record, folder in finished_runs(out)
            if record["kind"] == "finetune"]
    order = in_model_order(record["labels"]["group"] for record, _ in runs)
    runs.sort(key=lambda run: (order.index(run[0]["labels"]["group"]), run[0]["labels"]["seed"]))
    body = []
    for record, folder in runs:
        data = load_run(part_dir(folder, "finetune"), "finetune").data
        training = data["training"]
        metric = data["metric"]
        curve = " → ".join(f"{POINTS * h['dev'][metric]:.1f}" for h in training["history"])
        losses = " → ".join(f"{h['train_loss']:.3f}" for h in training["history"])
        body.append([record["name"], curve, losses, training["best_epoch"], training["steps"],
                     number(training["train_words_per_second"], 1),
                     f"{record.get('seconds', 0) / 60:.0f}" if record.get("seconds") else "–"])
    return table(["run", "dev accuracy per epoch", "train loss per epoch", "best epoch",
                  "updates", "train words/s", "run minutes"], body) if body else ""


def stability_tables(tables: Tables) -> str:
    rows = tables.stability
    if not rows:
        return ""
    layers = _layers(rows)
    measures = list(dict.fromkeys(r["measure"] for r in rows))
    header = ["layer"]
    columns = []
    for measure in measures:
        columns += [(measure, "finetuned", "paired", f"{measure} paired"),
                    (measure, "finetuned", "shuffled", f"{measure} shuffled"),
                    (measure, "stability-pretrained", "cross-lingual",
                     f"{measure} en-vs-targets before"),
                    (measure, "stability-finetuned", "cross-lingual",
                     f"{measure} en-vs-targets after")]
    header += [c[3] for c in columns]
    means = {c: _mean_by((r for r in rows if r["measure"] == c[0] and r["stage"] == c[1]
                          and r["condition"] == c[2]), "position") for c in columns}
    body = [[layer, *(number(means[c].get(position)) for c in columns)]
            for position, layer in enumerate(layers)]
    groups = sorted({r["group"] for r in rows})
    return (f"Stability of {', '.join(groups)} (mean over languages and seeds):\n\n"
            + table(header, body))


def correlation_table(tables: Tables) -> str:
    rows = tables.correlation
    if not rows:
        return ""
    layers = _layers(rows)
    body = []
    for position, layer in enumerate(layers):
        at = [r for r in rows if r["position"] == position]
        body.append([layer, *(number(statistics.fmean(r[k] for r in at if r[k] is not None))
                              for k in ("spearman", "spearman_p", "pearson", "pearson_p"))])
    return (f"Correlation across {rows[0]['languages']} targets, {rows[0]['measure']} vs "
            f"zero-shot {rows[0]['metric']}, mean over {len({r['run'] for r in rows})} runs:\n\n"
            + table(["layer", "Spearman", "p", "Pearson", "p"], body))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep", type=Path)
    parser.add_argument("--majority", type=Path, help="benchmarks/majority_baseline.py --json")
    parser.add_argument("--similarity", type=Path, nargs="*", default=[],
                        help="more similarity result folders to tabulate (e.g. --standardise)")
    args = parser.parse_args()
    tables = collect(args.sweep)
    majority = json.loads(args.majority.read_text()) if args.majority else None
    for result in similarity_results(args.sweep, args.similarity):
        print(f"## Similarity of {result['model']['name']}\n\n{similarity_tables(result)}\n")
    for title, text in (("RANDOM-INIT", pos_tables(tables, majority)),
                        ("Dev curves", dev_curves(args.sweep)),
                        ("Stability", stability_tables(tables)),
                        ("Correlation", correlation_table(tables))):
        if text:
            print(f"## {title}\n\n{text}\n")


if __name__ == "__main__":
    main()
