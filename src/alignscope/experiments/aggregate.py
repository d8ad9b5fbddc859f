"""A sweep's results as tidy tables in `OUT/results/` (CSV; Parquet too when pyarrow is there).

  scores.csv       one row per run x dataset x metric (raw metric values, 0-1)
  summary.csv      per task, model, layer group and dataset, the main metric: mean and std over
                   seeds, and the change against REF computed per seed (paired) with its 95 %
                   t-interval over seeds
  drops.csv        per task, model and group: source drop, mean target drop, and the paper's
                   summary "target drop minus source drop" (drop = REF - group), with intervals
  similarity.csv   per run, measure, condition, language and layer (pretrained and fine-tuned)
  stability.csv    per run, measure, condition, language and layer
  correlation.csv  per run and layer: Spearman and Pearson between similarity and transfer

Only whole, verified run folders are read (store.py); a corrupt or partial one is not.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alignscope.analysis.intervals import t_interval
from alignscope.experiments.spec import REFERENCE
from alignscope.experiments.store import RunStore
from alignscope.io import atomic_file, atomic_write_text
from alignscope.runs import load_run, part_dir, result_file

RESULTS = "results"
Row = dict[str, Any]


@dataclass
class Tables:
    scores: list[Row] = field(default_factory=list)
    similarity: list[Row] = field(default_factory=list)
    stability: list[Row] = field(default_factory=list)
    correlation: list[Row] = field(default_factory=list)
    metrics: dict[str, str] = field(default_factory=dict)  # task -> main metric

    def summary(self) -> list[Row]:
        return summarise(self.scores, self.metrics)

    def drops(self) -> list[Row]:
        return drop_rows(paired_deltas(self.scores, self.metrics))


def finished_runs(out: Path) -> list[tuple[dict[str, Any], Path]]:
    """(run record, folder) of every whole, verified run, in name order."""
    store = RunStore(out)
    if not store.runs.is_dir():
        return []
    found = []
    for folder in sorted(p for p in store.runs.iterdir() if not p.name.startswith(".")):
        record = store.read(folder.name)
        if record is not None:
            found.append((record, folder))
    return found


def collect(out: str | Path) -> Tables:
    tables = Tables()
    for record, folder in finished_runs(Path(out)):
        labels = record["labels"]
        base = {"run": record["name"], **{key: labels.get(key) for key in
                                          ("task", "model", "group", "seed")}}
        if record["kind"] == "finetune":
            _scores(tables, base, load_run(part_dir(folder, "finetune"), "finetune").data)
        if record["kind"] == "merge":  # a merged model's scores, its group the merge's name
            _scores(tables, base, load_run(part_dir(folder, "evaluate"), "evaluate").data)
        for kind, rows in (("similarity", tables.similarity), ("stability", tables.stability)):
            if result_file(part_dir(folder, kind), kind).is_file():
                result = load_run(part_dir(folder, kind), kind).data
                stage = "pretrained" if record["kind"] == "similarity" else "finetuned"
                rows.extend(_curves({**base, "stage": stage}, result["results"],
                                    result["layers"]))
                if kind == "stability" and result.get("cross_lingual", {}).get("results"):
                    rows.extend(_cross_lingual(base, result["cross_lingual"]["results"],
                                               result["layers"]))
        if record["kind"] == "correlation":
            result = load_run(part_dir(folder, "correlation"), "correlation").data
            tables.correlation.extend(
                {**base, "measure": result["measure"], "metric": result["metric"],
                 "languages": len(result["languages"]), "position": position, **entry}
                for position, entry in enumerate(result["per_layer"]))
    return tables


def _scores(tables: Tables, base: Row, results: dict[str, Any]) -> None:
    metric = results["metric"]
    tables.metrics[base["task"]] = metric
    source = results.get("source_language")
    for index, entry in enumerate(results["evaluations"]):
        role = "source" if index == 0 and entry["language"] == source else "target"
        for name, value in entry["metrics"].items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                tables.scores.append({**base, "dataset": entry["dataset"],
                                      "language": entry["language"], "role": role,
                                      "metric": name, "value": float(value)})


def _curves(base: Row, results: dict[str, Any], layers: list[str]) -> Iterable[Row]:
    """One row per value; `layer` is its name (embeddings, block.K), `position` its order."""
    for measure, by_condition in results.items():
        for condition, by_language in by_condition.items():
            for language, values in by_language.items():
                for position, (layer, value) in enumerate(zip(layers, values, strict=True)):
                    yield {**base, "measure": measure, "condition": condition,
                           "language": language, "layer": layer, "position": position,
                           "value": value}


def _cross_lingual(base: Row, results: dict[str, Any], layers: list[str]) -> Iterable[Row]:
    """Stability runs also measure source-vs-target similarity in both models."""
    for measure, by_role in results.items():
        for role, by_language in by_role.items():
            yield from _curves({**base, "stage": f"stability-{role}"},
                               {measure: {"cross-lingual": by_language}}, layers)


def _main(scores: list[Row], metrics: dict[str, str]) -> list[Row]:
    return [row for row in scores if row["metric"] == metrics.get(row["task"])]


def paired_deltas(scores: list[Row], metrics: dict[str, str],
                  ) -> dict[tuple[Any, ...], dict[int, dict[str, float]]]:
    """(task, model, group, dataset, language, role) -> seed -> {value, delta vs REF}."""
    main = _main(scores, metrics)
    reference = {(r["task"], r["model"], r["dataset"], r["seed"]): r["value"]
                 for r in main if r["group"] == REFERENCE}
    table: dict[tuple[Any, ...], dict[int, dict[str, float]]] = defaultdict(dict)
    for row in main:
        key = (row["task"], row["model"], row["group"], row["dataset"], row["language"],
               row["role"])
        ref = reference.get((row["task"], row["model"], row["dataset"], row["seed"]))
        entry = {"value": row["value"]}
        if ref is not None:
            entry["delta"] = row["value"] - ref
        table[key][row["seed"]] = entry
    return table


def summarise(scores: list[Row], metrics: dict[str, str]) -> list[Row]:
    rows = []
    for (task, model, group, dataset, language, role), by_seed in \
            paired_deltas(scores, metrics).items():
        values = [e["value"] for e in by_seed.values()]
        deltas = [e["delta"] for e in by_seed.values() if "delta" in e]
        low, high = t_interval(deltas)
        rows.append({"task": task, "model": model, "group": group, "dataset": dataset,
                     "language": language, "role": role, "metric": metrics[task],
                     "seeds": len(values), "mean": statistics.fmean(values),
                     "std": statistics.stdev(values) if len(values) > 1 else None,
                     "delta_seeds": len(deltas),
                     "delta_mean": statistics.fmean(deltas) if deltas else None,
                     "delta_low": low, "delta_high": high})
    return rows


def seed_drops(pairs: dict[tuple[Any, ...], dict[int, dict[str, float]]],
               ) -> dict[tuple[Any, ...], dict[int, tuple[float, float]]]:
    """(task, model, group) -> seed -> (source drop, mean target drop), drop = REF - group."""
    by_group: dict[tuple[Any, ...], dict[int, dict[str, list[float]]]] = defaultdict(
        lambda: defaultdict(lambda: {"source": [], "target": []}))
    for (task, model, group, _dataset, _language, role), by_seed in pairs.items():
        if group == REFERENCE:
            continue
        for seed, entry in by_seed.items():
            if "delta" in entry:
                by_group[(task, model, group)][seed][role].append(-entry["delta"])
    return {key: {seed: (statistics.fmean(d["source"]), statistics.fmean(d["target"]))
                  for seed, d in by_seed.items() if d["source"] and d["target"]}
            for key, by_seed in by_group.items()}


def drop_rows(pairs: dict[tuple[Any, ...], dict[int, dict[str, float]]]) -> list[Row]:
    """Per group: source drop, mean target drop and target - source, mean over seeds with
    their intervals."""
    rows = []
    for (task, model, group), per_seed in seed_drops(pairs).items():
        if not per_seed:
            continue
        row: Row = {"task": task, "model": model, "group": group, "seeds": len(per_seed)}
        for name, values in (("source_drop", [s for s, _ in per_seed.values()]),
                             ("target_drop", [t for _, t in per_seed.values()]),
                             ("target_minus_source", [t - s for s, t in per_seed.values()])):
            low, high = t_interval(values)
            row.update({name: statistics.fmean(values), f"{name}_low": low,
                        f"{name}_high": high})
        rows.append(row)
    return rows


def to_csv(rows: list[Row]) -> str:
    if not rows:
        return ""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: ("" if v is None else v) for k, v in row.items()} for row in rows)
    return buffer.getvalue()


def write_tables(out: str | Path) -> dict[str, Path]:
    """Write every table (that has rows) to OUT/results/; returns name -> CSV path."""
    tables = collect(out)
    folder = Path(out) / RESULTS
    written = {}
    for name, rows in (("scores", tables.scores), ("summary", tables.summary()),
                       ("drops", tables.drops()), ("similarity", tables.similarity),
                       ("stability", tables.stability), ("correlation", tables.correlation)):
        if not rows:
            continue
        written[name] = atomic_write_text(folder / f"{name}.csv", to_csv(rows))
        _parquet(folder / f"{name}.parquet", rows)
    return written


def _parquet(path: Path, rows: list[Row]) -> None:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:  # Parquet is optional
        return
    with atomic_file(path) as tmp:
        pq.write_table(pa.Table.from_pylist(rows), tmp)
