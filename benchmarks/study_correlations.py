"""Similarity vs transfer for every measure and control of a study, beside the sweep's one.

    python benchmarks/study_correlations.py runs/decoder-pos \\
        [--similarity runs/decoder-sim-standardised ...] [--group REF]

The sweep correlates one measure (its first) of the pretrained similarity with each REF run's
zero-shot scores. This correlates every measure of every given similarity result (the sweep's
own, then each `--similarity` folder, e.g. the standardised curves) under the parallel
condition and under the random-init control: how much of the correlation a random model's
similarity already gives (shared tokens, scripts). Spearman per layer, mean over the group's
seeds, printed as a markdown table. Nothing is written; `alignscope correlate` does the same
one pair at a time.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from alignscope.analysis.correlation import run_correlation
from alignscope.analysis.settings import CorrelationConfig
from alignscope.experiments.aggregate import finished_runs
from alignscope.runs import load_run, part_dir


def correlations(sweep: Path, extra: list[Path], group: str, measures: list[str],
                 ) -> tuple[list[str], list[str], list[list[str]]]:
    """(layers, column names, rows of Spearman means) over the group's finished runs."""
    found = finished_runs(sweep)
    transfers = [part_dir(folder, "finetune") for record, folder in found
                 if record["kind"] == "finetune" and record["labels"].get("group") == group]
    similarities = [part_dir(folder, "similarity") for record, folder in found
                    if record["name"] == "similarity-pretrained"] + extra
    if not transfers or not similarities:
        raise SystemExit(f"{sweep}: no finished {group} fine-tune or pretrained similarity yet")
    columns: list[str] = []
    values: list[list[float]] = []
    layers: list[str] = []
    for similarity in similarities:
        data = load_run(similarity, "similarity").data
        tag = "standardised" if data["config"].get("standardise") else "raw"
        for measure in (m for m in measures if m in data["results"]):
            for condition in ("parallel", "random-init"):
                if condition not in data["results"][measure]:
                    continue
                per_run = [run_correlation(CorrelationConfig(
                    similarity=str(similarity), transfer=str(transfer), measure=measure,
                    condition=condition))["per_layer"] for transfer in transfers]
                layers = [entry["layer"] for entry in per_run[0]]
                columns.append(f"{measure} {tag}" + (" (random-init)" if condition != "parallel"
                                                     else ""))
                values.append([statistics.fmean(run[i]["spearman"] for run in per_run)
                               for i in range(len(layers))])
    rows = [[layer, *(f"{column[i]:.2f}" for column in values)]
            for i, layer in enumerate(layers)]
    return layers, columns, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep", type=Path)
    parser.add_argument("--similarity", type=Path, nargs="*", default=[])
    parser.add_argument("--group", default="REF")
    parser.add_argument("--measures", default="linear,mexa,anc,retrieval",
                        help="comma-separated (ANC is scale-invariant: standardising leaves it)")
    args = parser.parse_args()
    _, columns, rows = correlations(args.sweep, args.similarity, args.group,
                                    args.measures.split(","))
    print("| layer | " + " | ".join(columns) + " |")
    print("|" + "---|" * (len(columns) + 1))
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
