from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from alignscope.cli import app
from alignscope.errors import AlignscopeError
from alignscope.report.tables import transfer_table


def write_run(directory: Path, layers: str | None, scores: dict[str, float],
              metric: str = "upos_accuracy") -> Path:
    directory.mkdir(parents=True)
    results = {"task": "pos", "metric": metric, "random_init": {"layers": layers, "regex": None},
               "evaluations": [{"dataset": d, "language": d.split(":")[1][:2],
                                "metrics": {metric: s}} for d, s in scores.items()]}
    (directory / "results.json").write_text(json.dumps(results))
    return directory


def test_deltas_against_the_reference(tmp_path: Path) -> None:
    ref = write_run(tmp_path / "ref", None, {"ud:en_ewt:test": 0.95, "ud:fr_pud:test": 0.85})
    low = write_run(tmp_path / "ri01", "0-1", {"ud:en_ewt:test": 0.94, "ud:fr_pud:test": 0.70})
    top = write_run(tmp_path / "ri1011", "10-11", {"ud:en_ewt:test": 0.955})
    table = transfer_table([ref, low, top])
    assert table.labels == ["REF", "RI 0-1", "RI 10-11"]
    text = table.render("markdown")
    assert "| ud:fr_pud:test | 85.00 | 70.00 (-15.00) | – (–) |" in text
    assert "| ud:en_ewt:test | 95.00 | 94.00 (-1.00) | 95.50 (+0.50) |" in text
    assert table.render("csv").splitlines()[0] == "dataset,REF,RI 0-1 (Δ),RI 10-11 (Δ)"
    latex = table.render("latex")
    assert r"\toprule" in latex and r"RI 0-1 ($\Delta$)" in latex
    assert r"ud:fr\_pud:test & 85.00 & 70.00 (-15.00) & -- (--) \\" in latex  # escaped: compiles


def test_mixed_tasks_and_missing_runs_are_errors(tmp_path: Path) -> None:
    pos = write_run(tmp_path / "pos", None, {"ud:en_ewt:test": 0.9})
    ner = write_run(tmp_path / "ner", None, {"ner:wikiann:en:test": 0.8}, metric="f1")
    with pytest.raises(AlignscopeError, match="different metrics"):
        transfer_table([pos, ner])
    result = CliRunner().invoke(app, ["table", str(pos), str(tmp_path / "absent")])
    assert result.exit_code == 2 and "absent not found" in result.output


def test_cli_writes_the_table(tmp_path: Path) -> None:
    ref = write_run(tmp_path / "ref", None, {"ud:en_ewt:test": 0.95})
    out = tmp_path / "table.csv"
    result = CliRunner().invoke(app, ["table", str(ref), "--labels", "mBERT", "--format", "csv",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text() == "dataset,mBERT\nud:en_ewt:test,95.00\n"
