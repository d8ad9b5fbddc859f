"""`alignscope table` on similarity / stability runs: languages x layers, before → after."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from alignscope.cli import app
from alignscope.errors import AlignscopeError
from alignscope.report.layer_tables import layer_table


@pytest.fixture
def write_similarity(result_header: Callable[..., dict]) -> Callable[..., Path]:
    def write(directory: Path, fr: list[float], intervals: bool = False) -> Path:
        directory.mkdir(parents=True)
        result = result_header(
            "similarity", layers=["embeddings", "block.0", "block.1"], measures=["linear"],
            target_languages=["fr", "ja"], conditions=["parallel", "shuffled"],
            results={"linear": {"parallel": {"fr": fr, "ja": [0.4, None, 0.6]},
                                "shuffled": {"fr": [0.1, 0.1, 0.1], "ja": [0.0, 0.0, 0.0]}}},
            intervals={"linear": {"fr": [[v - 0.01, v + 0.02] for v in fr],
                                  "ja": [[0.3, 0.5], [None, None], [0.5, 0.7]]}}
            if intervals else {})
        (directory / "similarity.json").write_text(json.dumps(result), encoding="utf-8")
        return directory

    return write


def test_one_run_shows_values_with_intervals(tmp_path: Path, write_similarity: Callable) -> None:
    run = write_similarity(tmp_path / "pre", [0.5, 0.8, 0.7], intervals=True)
    text = layer_table([run], layers="embeddings,block.1").render("markdown")
    assert text.startswith("linear (parallel), en vs target")
    assert "| language | embeddings | block.1 |" in text
    assert "| fr | 0.500 [0.490, 0.520] | 0.700 [0.690, 0.720] |" in text
    assert "| ja | 0.400 [0.300, 0.500] | 0.600 [0.500, 0.700] |" in text
    shuffled = layer_table([run], condition="shuffled").render("csv")
    assert shuffled.splitlines()[1] == "fr,0.100,0.100,0.100"  # controls carry no interval


def test_several_runs_read_before_to_after(tmp_path: Path, write_similarity: Callable) -> None:
    pre = write_similarity(tmp_path / "pre", [0.5, 0.8, 0.7])
    post = write_similarity(tmp_path / "post", [0.5, 0.75, 0.6])
    text = layer_table([pre, post]).render("latex")
    assert r"fr & 0.500 $\to$ 0.500 & 0.800 $\to$ 0.750 & 0.700 $\to$ 0.600 \\" in text
    assert r"ja & 0.400 $\to$ 0.400 & -- $\to$ -- & 0.600 $\to$ 0.600 \\" in text
    assert text.startswith("% linear (parallel), en vs target\n")


def test_bad_requests_name_what_exists(tmp_path: Path, write_similarity: Callable) -> None:
    run = write_similarity(tmp_path / "pre", [0.5, 0.8, 0.7])
    with pytest.raises(AlignscopeError, match=r"unknown measure .* 'rbf'"):
        layer_table([run], measure="rbf")
    with pytest.raises(AlignscopeError, match=r"layer block.5 is not in the runs \(layers "
                                              r"embeddings \.\.\. block.1\)"):
        layer_table([run], layers="block.5")
    with pytest.raises(AlignscopeError, match=r"no similarity result \(similarity\.json.* or "
                                              r"stability result"):
        layer_table([run, tmp_path])
    result = CliRunner().invoke(app, ["table", str(run), "--layers", "0,x"])
    assert result.exit_code == 2 and "bad item 'x' in layer spec" in result.output


def test_cli_writes_the_analysis_table(tmp_path: Path, write_similarity: Callable) -> None:
    run = write_similarity(tmp_path / "pre", [0.5, 0.8, 0.7])
    out = tmp_path / "tables"
    result = CliRunner().invoke(app, ["table", str(run), "--layers", "block.0", "--out",
                                      str(out), "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert "fr,0.800" in (out / "table.csv").read_text(encoding="utf-8")
    again = CliRunner().invoke(app, ["table", str(run), "--out", str(out), "--format", "csv"])
    assert again.exit_code == 2 and "--overwrite" in again.output
