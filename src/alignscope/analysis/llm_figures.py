"""The figures of `lens` and `neurons` runs, drawn from their results.

  lens-<lens>-<task>.png   one panel per language pair (translation) or language: the answer's
                           probability in the target language and in each latent language per
                           layer, mean over items with its interval band (Wendler et al. 2024,
                           Fig. 2), the control (dashed: another concept's word in the latent
                           language) and the entropy of the next-token distribution (bits,
                           right axis, dotted)
  neurons-counts.png       selected neurons per layer, one line per language
  deactivation.png         perplexity change, language neurons silenced beside as many random
                           neurons silenced (one colour scale for both)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from alignscope.analysis.plots import as_array, palette, save_figure


def _panel(axes: Any, layers: Sequence[str], curves: Mapping[str, Mapping[str, list]],
           title: str) -> None:
    x = np.arange(len(layers))
    names = [m for m in curves if m.endswith(".prob") and not m.startswith("control.")]
    for color, metric in zip(palette(len(names)), names, strict=False):
        curve = curves[metric]
        label = "target" if metric == "target.prob" else metric.removesuffix(".prob")
        axes.plot(x, as_array(curve["mean"]), color=color, marker="o", markersize=2.5,
                  label=label.removeprefix("latent."))
        axes.fill_between(x, as_array(curve["low"]), as_array(curve["high"]), color=color,
                          alpha=0.2, lw=0)
        control = curves.get(metric.replace("latent.", "control.", 1))
        if metric.startswith("latent.") and control:
            axes.plot(x, as_array(control["mean"]), color=color, linestyle="--", lw=1,
                      label=f"{label.removeprefix('latent.')}, another concept")
    axes.set_ylim(-0.02, 1.02)
    axes.set_title(f"{title} (n={curves['entropy']['n'][0]})", fontsize="small")
    step = max(1, len(layers) // 6)
    axes.set_xticks(x[::step], [layers[i] for i in range(0, len(layers), step)], rotation=45,
                    ha="right", fontsize="x-small")
    axes.grid(alpha=0.3)
    twin = axes.twinx()
    twin.plot(x, as_array(curves["entropy"]["mean"]), color="0.4", linestyle=":", lw=1)
    twin.tick_params(labelsize="x-small")


def lens_figures(folder: Path, result: dict[str, Any]) -> None:
    layers = result["layers"]
    for lens, by_spec in result["curves"].items():
        for task in result["tasks"]:
            specs = {key: curves for key, curves in by_spec.items()
                     if key.startswith(f"{task}:")}
            if not specs:
                continue
            columns = min(4, len(specs))
            rows = math.ceil(len(specs) / columns)
            figure = Figure(figsize=(3.2 * columns, 2.8 * rows + 0.6))
            grid = figure.subplots(rows, columns, squeeze=False)
            for axes, (key, curves) in zip(grid.flat, specs.items(), strict=False):
                _panel(axes, layers, curves, key.split(":", 1)[1])
            for axes in list(grid.flat)[len(specs):]:
                axes.set_visible(False)
            handles, labels = grid.flat[0].get_legend_handles_labels()
            figure.legend(handles, labels, loc="upper right", fontsize="small", frameon=False)
            figure.suptitle(f"{result['model']['name']}: {lens} lens, {task} (probability; "
                            "dotted: entropy in bits, right axis)", fontsize="small")
            figure.tight_layout(rect=(0, 0, 1, 0.95))
            save_figure(figure, folder, f"lens-{lens}-{task}")


def neurons_figures(folder: Path, result: dict[str, Any]) -> None:
    layers, languages = result["layers"], result["languages"]
    figure = Figure(figsize=(8, 4.5))
    axes = figure.subplots()
    x = np.arange(len(layers))
    for color, lang in zip(palette(len(languages)), languages, strict=False):
        axes.plot(x, result["counts"][lang], color=color, marker="o", markersize=3, label=lang)
    axes.set_xticks(x, layers, rotation=45, ha="right")
    axes.set(xlabel="layer", ylabel="language-specific neurons",
             title=f"{result['model']['name']}: LAPE neurons per layer")
    axes.grid(alpha=0.3)
    axes.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    save_figure(figure, folder, "neurons-counts")
    deactivation = result.get("deactivation")
    if deactivation:
        plot_deactivation(folder, deactivation, str(result["model"]["name"]))


def plot_deactivation(folder: Path, deactivation: Mapping[str, Any], name: str) -> list[Path]:
    languages = deactivation["languages"]
    matrices = {"language neurons off": np.array([as_array(r) for r in deactivation["selected"]]),
                "as many random neurons off": np.array([as_array(r)
                                                        for r in deactivation["random"]])}
    bound = max(float(np.nanmax(np.abs(m))) for m in matrices.values()) or 1.0
    figure = Figure(figsize=(11, 4.8))
    grid = figure.subplots(1, 2)
    image = None
    for axes, (title, matrix) in zip(grid, matrices.items(), strict=True):
        image = axes.imshow(matrix, cmap="RdBu_r", vmin=-bound, vmax=bound)
        axes.set_xticks(range(len(languages)), languages)
        axes.set_yticks(range(len(languages)), languages)
        axes.set(xlabel="text scored", ylabel="whose neurons are off", title=title)
        for (i, j), value in np.ndenumerate(matrix):
            axes.text(j, i, f"{value:.2g}", ha="center", va="center", fontsize="xx-small",
                      color="white" if abs(value) > bound / 2 else "black")
    figure.colorbar(image, ax=list(grid), label="perplexity change")
    figure.suptitle(f"{name}: {deactivation.get('scoring', 'perplexity')}", fontsize="small")
    return save_figure(figure, folder, "deactivation")
