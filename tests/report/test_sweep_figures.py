"""Drop bars: an interval is drawn only where the seeds give one. Layer lines: every control
its own grey line."""

from __future__ import annotations

from pathlib import Path

import pytest
from matplotlib.container import BarContainer
from matplotlib.figure import Figure

from alignscope.report import sweep_figures


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> list[Figure]:
    """The figures drop_bars saves, kept for inspection."""
    figures: list[Figure] = []
    monkeypatch.setattr(sweep_figures, "save", lambda figure, directory, stem: figures.append(
        figure) or [])
    return figures


def _error_bars(figure: Figure) -> list[object]:
    axes = figure.axes[0]
    return [container.errorbar for container in axes.containers
            if isinstance(container, BarContainer)]


def test_one_seed_draws_no_interval(tmp_path: Path, drawn: list[Figure]) -> None:
    sweep_figures.drop_bars(tmp_path, "drops", ["block.0-1"],
                            {"source": [(8.4, (None, None))], "targets": [(28.8, (None, None))]},
                            title="one seed")
    assert _error_bars(drawn[0]) == [None, None]


def test_intervals_drawn_where_seeds_give_them(tmp_path: Path, drawn: list[Figure]) -> None:
    sweep_figures.drop_bars(tmp_path, "drops", ["block.0-1", "block.2-3"],
                            {"source": [(2.0, (1.0, 3.0)), (1.0, (0.5, 1.5))]}, title="seeds")
    (bars,) = _error_bars(drawn[0])
    assert bars is not None
    segments = bars.lines[2][0].get_segments()
    assert [(segment[0][1], segment[1][1]) for segment in segments] == [(1.0, 3.0), (0.5, 1.5)]


def test_every_control_is_drawn_in_its_own_style(tmp_path: Path, drawn: list[Figure]) -> None:
    shuffled, random_init = [0.1, 0.0, 0.05], [0.6, 0.45, 0.4]
    sweep_figures.layer_lines(tmp_path, "similarity", ["embeddings", "block.0", "block.1"],
                              {"fr": [0.7, 0.4, 0.3]}, title="en", ylabel="linear CKA",
                              controls={"shuffled pairs (mean)": shuffled,
                                        "random-init model (mean)": random_init})
    lines = {line.get_label(): line for line in drawn[0].axes[0].get_lines()}
    assert list(lines["shuffled pairs (mean)"].get_ydata()) == shuffled
    assert list(lines["random-init model (mean)"].get_ydata()) == random_init
    assert lines["shuffled pairs (mean)"].get_linestyle() == ":"
    assert lines["random-init model (mean)"].get_linestyle() == "-."
