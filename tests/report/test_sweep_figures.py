"""Drop bars: an interval is drawn only where the seeds give one."""

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
