"""Summary tables for BENCHMARKS.md from `similarity` / `stability` output folders: the
controls' maxima and means over languages, which `alignscope table` does not show.

    .venv/bin/python benchmarks/summarise_analysis.py similarity runs/issue3/sim-pretrained
    .venv/bin/python benchmarks/summarise_analysis.py stability runs/issue3/stability
"""

from __future__ import annotations

import sys

from alignscope.runs import load_run

LAYERS = ("embeddings", "block.2", "block.5", "block.8", "block.11")


def cell(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def with_interval(value: float | None, interval: list[float | None] | None) -> str:
    if value is None or not interval or None in interval:
        return cell(value)
    return f"{value:.3f} [{interval[0]:.3f}, {interval[1]:.3f}]"


def similarity(folder: str, measure: str = "linear") -> None:
    result = load_run(folder, "similarity").data
    values = result["results"][measure]
    intervals = result["intervals"].get(measure, {})
    layers = [result["layers"].index(layer) for layer in LAYERS if layer in result["layers"]]
    header = ["target", *(result["layers"][layer] for layer in layers), "shuffled (max)",
              "random-init (max)", "retrieval (best layer)"]
    print(f"{measure}, {result['parallel']['sentences']} sentences; 95 % half-sample interval")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for lang in result["target_languages"]:
        parallel = values["parallel"][lang]
        row = [lang, *(with_interval(parallel[layer], (intervals.get(lang) or [None] * 99)[layer])
                       for layer in layers)]
        for control in ("shuffled", "random-init"):
            curve = [v for v in values.get(control, {}).get(lang, []) if v is not None]
            row.append(cell(max(curve)) if curve else "–")
        retrieval = result["results"].get("retrieval", {}).get("parallel", {}).get(lang)
        if retrieval:
            best = max(range(len(retrieval)), key=lambda i: retrieval[i] or 0)
            row.append(f"{retrieval[best]:.3f} ({result['layers'][best]})")
        else:
            row.append("–")
        print("| " + " | ".join(row) + " |")


def stability(folder: str) -> None:
    result = load_run(folder, "stability").data
    measures = [m for m in result["measures"] if not m.startswith("retrieval-")]
    languages = result["languages"]
    print(f"pretrained vs fine-tuned, same sentences ({result['sentences']}); "
          "mean over languages (min-max)")
    print("| layer | " + " | ".join(measures) + " | shuffled (linear) |")
    print("|" + "---|" * (len(measures) + 2))
    for layer, name in enumerate(result["layers"]):
        cells = []
        for measure in [*measures, "linear"]:
            condition = "shuffled" if len(cells) == len(measures) else "paired"
            values = [result["results"][measure][condition][lang][layer] for lang in languages]
            values = [v for v in values if v is not None]
            cells.append(f"{sum(values) / len(values):.3f} ({min(values):.3f}-{max(values):.3f})")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    commands = {"similarity": similarity, "stability": stability}
    if len(sys.argv) < 3 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    commands[sys.argv[1]](*sys.argv[2:])
