"""Figures as PNG + SVG, drawn with matplotlib's object API (Agg; no pyplot global state): the
layer curves, matrices and correlations of analysis runs, and the helpers the report's figures
share."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

Curves = Mapping[str, Sequence[float | None]]  # label -> one value per layer
CONTROL_STYLES = {"shuffled": "--", "random-init": ":"}


def save_figure(figure: Figure, directory: Path, stem: str) -> list[Path]:
    """Write `stem`.png and `stem`.svg into `directory` (callers write into an atomic folder)."""
    paths = [directory / f"{stem}.png", directory / f"{stem}.svg"]
    figure.savefig(paths[0], dpi=150, bbox_inches="tight")
    figure.savefig(paths[1], bbox_inches="tight", metadata={"Date": None})
    return paths


def as_array(values: Sequence[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def palette(count: int) -> list[tuple[float, ...]]:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if count <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(count)]


def _layer_axis(axes: Axes, layers: Sequence[str], ylabel: str, title: str) -> None:
    """Layers by name (docs/layers.md), one tick each."""
    axes.set_xlabel("layer")
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.set_xticks(range(len(layers)), list(layers), rotation=45, ha="right")
    axes.grid(alpha=0.3)


def plot_layer_curves(directory: Path, stem: str, layers: Sequence[str], curves: Curves, *,
                      title: str, ylabel: str, controls: Mapping[str, Curves] | None = None,
                      intervals: Mapping[str, Sequence[Sequence[float | None]]] | None = None,
                      ) -> list[Path]:
    """One line per language; each control as its mean over languages with a min-max band."""
    figure = Figure(figsize=(8, 5))
    axes = figure.subplots()
    x = np.arange(len(layers))
    for color, (label, values) in zip(palette(len(curves)), curves.items(), strict=False):
        axes.plot(x, as_array(values), marker="o", markersize=3, color=color, label=label)
        if intervals and label in intervals:
            bounds = np.array([[np.nan if b is None else b for b in pair]
                               for pair in intervals[label]], dtype=float)
            axes.fill_between(x, bounds[:, 0], bounds[:, 1], color=color, alpha=0.15, lw=0)
    for name, by_language in (controls or {}).items():
        table = np.array([as_array(v) for v in by_language.values()])
        if table.size == 0:
            continue
        style = CONTROL_STYLES.get(name, "-.")
        axes.plot(x, np.nanmean(table, 0), color="0.35", linestyle=style,
                  label=f"{name} (mean over languages)")
        axes.fill_between(x, np.nanmin(table, 0), np.nanmax(table, 0), color="0.5", alpha=0.12,
                          lw=0)
    _layer_axis(axes, layers, ylabel, title)
    # Outside the axes: with many languages an inside legend hides curves.
    axes.legend(fontsize="small", ncol=2 if len(curves) > 12 else 1, loc="upper left",
                bbox_to_anchor=(1.01, 1.0), frameon=False)
    return save_figure(figure, directory, stem)


def plot_pre_post(directory: Path, stem: str, layers: Sequence[str], before: Curves,
                  after: Curves, *, title: str, ylabel: str) -> list[Path]:
    """Per language: before fine-tuning solid, after dashed, same colour."""
    from matplotlib.lines import Line2D

    figure = Figure(figsize=(8, 5))
    axes = figure.subplots()
    handles = []
    x = np.arange(len(layers))
    for color, label in zip(palette(len(before)), before, strict=False):
        axes.plot(x, as_array(before[label]), color=color, marker="o", markersize=3)
        if label in after:
            axes.plot(x, as_array(after[label]), color=color, linestyle="--", marker="s",
                      markersize=3)
        handles.append(Line2D([], [], color=color, label=label))
    handles += [Line2D([], [], color="0.3", marker="o", markersize=3, label="pretrained"),
                Line2D([], [], color="0.3", linestyle="--", marker="s", markersize=3,
                       label="fine-tuned")]
    _layer_axis(axes, layers, ylabel, title)
    axes.legend(handles=handles, fontsize="small", ncol=2 if len(before) > 12 else 1,
                loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return save_figure(figure, directory, stem)


def plot_layer_matrix(directory: Path, stem: str, matrix: Sequence[Sequence[float | None]],
                      layers: Sequence[str], *, title: str, xlabel: str,
                      ylabel: str) -> list[Path]:
    figure = Figure(figsize=(6, 5))
    axes = figure.subplots()
    image = axes.imshow(np.array([as_array(row) for row in matrix]), origin="lower",
                        cmap="viridis", vmin=0, vmax=1)
    figure.colorbar(image, ax=axes)
    axes.set_xticks(range(len(layers)), list(layers), rotation=90)
    axes.set_yticks(range(len(layers)), list(layers))
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    return save_figure(figure, directory, stem)


def plot_correlation(directory: Path, stem: str, layers: Sequence[str],
                     coefficients: Curves, *, title: str) -> list[Path]:
    """Correlation coefficient per layer, one line per coefficient (Spearman, Pearson)."""
    figure = Figure(figsize=(8, 4.5))
    axes = figure.subplots()
    for label, values in coefficients.items():
        axes.plot(np.arange(len(layers)), as_array(values), marker="o", markersize=3, label=label)
    axes.axhline(0, color="0.5", lw=0.8)
    axes.set_ylim(-1.05, 1.05)
    _layer_axis(axes, layers, "correlation with zero-shot score", title)
    axes.legend(fontsize="small")
    return save_figure(figure, directory, stem)
