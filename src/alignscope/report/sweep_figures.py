"""The report's figures, sized for a paper: 3.4 in wide (one column) or 7 in (two columns) at
8 pt text, so they stay legible when printed at that width. PNG (300 dpi) + SVG."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from matplotlib import rc_context
from matplotlib.figure import Figure

from alignscope.analysis.plots import as_array, palette

ONE_COLUMN, TWO_COLUMNS = 3.4, 7.0
PAPER_STYLE = {"font.size": 8, "axes.titlesize": 8, "axes.labelsize": 8, "xtick.labelsize": 7,
               "ytick.labelsize": 7, "legend.fontsize": 7, "lines.linewidth": 1.2,
               "lines.markersize": 3, "svg.hashsalt": "alignscope"}
Band = tuple[float | None, float | None]


@contextmanager
def paper_figure(width: float, height: float) -> Iterator[Figure]:
    with rc_context(PAPER_STYLE):
        yield Figure(figsize=(width, height), layout="constrained")


def save(figure: Figure, directory: Path, stem: str) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = [directory / f"{stem}.png", directory / f"{stem}.svg"]
    with rc_context(PAPER_STYLE):
        figure.savefig(paths[0], dpi=300)
        figure.savefig(paths[1], metadata={"Date": None})
    return paths


def delta_heatmap(directory: Path, stem: str, groups: Sequence[str], languages: Sequence[str],
                  deltas: Sequence[Sequence[float | None]], *, title: str) -> list[Path]:
    """Layer group x language: the change against REF (points), annotated, centred at 0."""
    matrix = np.array([as_array(row) for row in deltas], dtype=float)
    limit = float(np.nanmax(np.abs(matrix))) if np.isfinite(matrix).any() else 1.0
    width = min(TWO_COLUMNS, 1.2 + 0.42 * len(languages))
    with paper_figure(width, 0.9 + 0.3 * len(groups)) as figure:
        axes = figure.subplots()
        image = axes.imshow(matrix, cmap="RdBu", vmin=-limit or -1, vmax=limit or 1,
                            aspect="auto")
        for (row, column), value in np.ndenumerate(matrix):
            if np.isfinite(value):
                axes.text(column, row, f"{value:+.1f}", ha="center", va="center", fontsize=6,
                          color="white" if abs(value) > 0.6 * limit else "black")
        axes.set_xticks(range(len(languages)), languages, rotation=90 if len(languages) > 8
                        else 0)
        axes.set_yticks(range(len(groups)), groups)
        axes.set_xlabel("language (first: source)")
        axes.set_title(title)
        figure.colorbar(image, ax=axes, label="Δ vs REF (points)", shrink=0.9)
        return save(figure, directory, stem)


def drop_bars(directory: Path, stem: str, groups: Sequence[str],
              drops: Mapping[str, Sequence[tuple[float, Band]]], *, title: str) -> list[Path]:
    """Per group, the source drop and the mean target drop side by side, with intervals."""
    with paper_figure(ONE_COLUMN if len(groups) <= 4 else TWO_COLUMNS / 1.4, 2.4) as figure:
        axes = figure.subplots()
        x = np.arange(len(groups))
        width = 0.8 / max(len(drops), 1)
        for index, (color, (label, values)) in enumerate(
                zip(palette(len(drops)), drops.items(), strict=False)):
            means = np.array([mean for mean, _ in values])
            low = np.array([np.nan if band[0] is None else band[0] for _, band in values])
            high = np.array([np.nan if band[1] is None else band[1] for _, band in values])
            errors = np.vstack([means - low, high - means])
            # No interval (one seed) draws no bar rather than a zero-width one that looks like
            # a tight interval.
            axes.bar(x + (index - (len(drops) - 1) / 2) * width, means, width, color=color,
                     label=label, yerr=None if np.isnan(errors).all() else errors, capsize=2,
                     error_kw={"lw": 0.8})
        axes.axhline(0, color="0.3", lw=0.6)
        axes.set_xticks(x, groups, rotation=30 if len(groups) > 4 else 0)
        axes.set_ylabel("drop: REF − group (points)")
        axes.set_title(title)
        axes.legend(frameon=False)
        axes.grid(axis="y", alpha=0.3)
        return save(figure, directory, stem)


# Grey control lines in order: (matplotlib style, the word a caption uses for it).
CONTROL_LINES = ((":", "dotted"), ("-.", "dash-dotted"))


def layer_lines(directory: Path, stem: str, layers: Sequence[str],
                curves: Mapping[str, Sequence[float | None]], *, title: str, ylabel: str,
                dashed: Mapping[str, Sequence[float | None]] | None = None,
                states: tuple[str, str] = ("pretrained", "fine-tuned"),
                controls: Mapping[str, Sequence[float | None]] | None = None,
                ylim: tuple[float, float] | None = None, zero_line: bool = False,
                ) -> list[Path]:
    """One line per label; `dashed` draws a second state of the same labels (e.g. after
    fine-tuning) in the same colour; `states` names the solid and dashed lines; `controls`
    (label -> values) are grey baselines such as the shuffled-pairs and random-init controls,
    dotted, then dash-dotted."""
    from matplotlib.lines import Line2D

    width = ONE_COLUMN if len(curves) <= 6 else TWO_COLUMNS / 1.4
    with paper_figure(width, 2.8) as figure:
        axes = figure.subplots()
        x = np.arange(len(layers))
        if zero_line:
            axes.axhline(0, color="0.3", lw=0.6)
        for color, (label, values) in zip(palette(len(curves)), curves.items(), strict=False):
            axes.plot(x, as_array(values), marker="o", color=color, label=label)
            if dashed and label in dashed:
                axes.plot(x, as_array(dashed[label]), linestyle="--", marker="s", color=color)
        for (style, _), (label, values) in zip(CONTROL_LINES, (controls or {}).items(),
                                               strict=False):
            axes.plot(x, as_array(values), color="0.45", linestyle=style, label=label)
        # `E` for the embeddings, then block K's output as K: full names would not fit a
        # column, and a longer first label runs into the next one.
        axes.set_xticks(x, [name.replace("block.", "").replace("embeddings", "E")
                            for name in layers])
        axes.set_xlabel("layer output (E = embeddings, K = block.K)")
        axes.set_ylabel(ylabel)
        axes.set_title(title)
        if ylim:
            axes.set_ylim(*ylim)
        axes.grid(alpha=0.3)
        handles, _ = axes.get_legend_handles_labels()
        if dashed:
            handles += [Line2D([], [], color="0.3", marker=marker, linestyle=style, label=label)
                        for label, marker, style in zip(states, "os", ("-", "--"), strict=True)]
        # Below the axes: beside them it would take a third of a column's width.
        figure.legend(handles=handles, frameon=False, loc="outside lower center",
                      ncol=min(len(handles), 3 if width == ONE_COLUMN else 5))
        return save(figure, directory, stem)


def step_lines(directory: Path, stem: str,
               curves: Mapping[str, tuple[Sequence[int], Sequence[float | None]]], *,
               title: str, ylabel: str,
               dashed: Mapping[str, tuple[Sequence[int], Sequence[float | None]]] | None = None,
               states: tuple[str, str] = ("solid", "dashed")) -> list[Path]:
    """Training curves: one line per label against the step; `dashed` draws a second model
    of the same labels in the same colour, `states` names the two."""
    from matplotlib.lines import Line2D

    with paper_figure(ONE_COLUMN, 2.6) as figure:
        axes = figure.subplots()
        for color, (label, (steps, values)) in zip(palette(len(curves)), curves.items(),
                                                   strict=False):
            axes.plot(steps, as_array(values), color=color, label=label)
            if dashed and label in dashed:
                axes.plot(dashed[label][0], as_array(dashed[label][1]), linestyle="--",
                          color=color)
        axes.set_xlabel("step")
        axes.set_ylabel(ylabel)
        axes.set_title(title)
        axes.grid(alpha=0.3)
        handles, _ = axes.get_legend_handles_labels()
        if dashed:
            handles += [Line2D([], [], color="0.3", linestyle=style, label=label)
                        for label, style in zip(states, ("-", "--"), strict=True)]
        figure.legend(handles=handles, frameon=False, loc="outside lower center", ncol=3)
        return save(figure, directory, stem)
