"""The figures of `similarity`, `stability` and `correlate` runs, drawn from their results.

`outputs.write_run` draws them into the same atomic run folder as the data they show, so a run
gets its figures whoever starts it: a command, a sweep or a Python caller.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from alignscope.analysis.llm_figures import lens_figures, neurons_figures
from alignscope.analysis.measures import describe
from alignscope.analysis.plots import (
    plot_correlation,
    plot_layer_curves,
    plot_layer_matrix,
    plot_pre_post,
)
from alignscope.runs import model_name
from alignscope.tasks.metrics import metric_label

Results = Mapping[str, Mapping[str, Mapping[str, Sequence[float | None]]]]


def plot_conditions(folder: Path, stem: str, layers: Sequence[str], results: Results,
                    main: str, title: str, intervals: Mapping[str, Any]) -> None:
    """Per measure, the main condition's curves with every other condition as a control."""
    for key, by_condition in results.items():
        if key.startswith("retrieval-"):  # the directions are in the mean's figure's data
            continue
        plot_layer_curves(folder, f"{stem}-{key}", layers, by_condition[main], title=title,
                          ylabel=describe(key),
                          controls={c: v for c, v in by_condition.items() if c != main},
                          intervals=intervals.get(key))


def similarity_figures(folder: Path, result: dict[str, Any]) -> None:
    layers, source = result["layers"], result["source_language"]
    plot_conditions(folder, "similarity", layers, result["results"], "parallel",
                    f"{model_name(result['model']['name'])}: {source} vs targets",
                    result["intervals"])
    for key, by_language in result["layer_matrix"].items():
        for lang, matrix in by_language.items():
            plot_layer_matrix(folder, f"matrix-{key}-{lang}", matrix, layers,
                              title=f"{describe(key)}: {source} vs {lang}",
                              xlabel=f"{lang} layer", ylabel=f"{source} layer")


def stability_figures(folder: Path, result: dict[str, Any]) -> None:
    layers = result["layers"]
    source = result["cross_lingual"]["source_language"]
    plot_conditions(folder, "stability", layers, result["results"], "paired",
                    "pretrained vs fine-tuned, same sentences", result["intervals"])
    for key, by_role in result["cross_lingual"]["results"].items():
        if key.startswith("retrieval-"):
            continue
        plot_pre_post(folder, f"pre-post-{key}", layers, by_role["pretrained"],
                      by_role["finetuned"], title=f"{source} vs each language, before and "
                      "after fine-tuning", ylabel=describe(key))
    for key, by_language in result["layer_matrix"].items():
        for lang, matrix in by_language.items():
            plot_layer_matrix(folder, f"matrix-{key}-{lang}", matrix, layers,
                              title=f"{describe(key)}, {lang}: pretrained vs fine-tuned",
                              xlabel="fine-tuned layer", ylabel="pretrained layer")


def correlation_figures(folder: Path, result: dict[str, Any]) -> None:
    plot_correlation(folder, "correlation", result["layers"],
                     {name: [e[name] for e in result["per_layer"]]
                      for name in ("spearman", "pearson")},
                     title=f"{result['measure']} similarity vs zero-shot {metric_label(result['metric'])} "
                           f"({len(result['languages'])} languages)")


FIGURES = {"similarity": similarity_figures, "stability": stability_figures,
           "correlation": correlation_figures, "lens": lens_figures,
           "neurons": neurons_figures}


def draw(folder: Path, result: dict[str, Any]) -> None:
    """The figures of `result`, by its kind, into `folder`."""
    FIGURES[result["kind"]](folder, result)
