from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from alignscope.cli import app
from alignscope.errors import AlignscopeError
from alignscope.layer_names import parse_layers
from alignscope.report.tables import transfer_table

V1 = Path(__file__).parents[1] / "fixtures" / "v1"


@pytest.fixture
def write_run(result_header: Callable[..., dict]) -> Callable[..., Path]:
    def write(directory: Path, layers: str | None, scores: dict[str, float],
              metric: str = "upos_accuracy", kind: str = "finetune") -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        names = parse_layers(layers).names if layers else []
        extra = ({"training": {}, "reinit": {"spec": layers, "regex": None, "scope": "all",
                                             "scheme": "model", "seed": 1, "tensors": []}}
                 if kind == "finetune" else {"checkpoint": str(directory)})
        results = result_header(
            kind, task="pos", metric=metric, random_init=names, **extra,
            evaluations=[{"dataset": d, "language": d.split(":")[1][:2], "sentences": 10,
                          "metrics": {metric: s}} for d, s in scores.items()])
        name = "results.json" if kind == "finetune" else "evaluation.json"
        (directory / name).write_text(json.dumps(results))
        return directory

    return write


def test_deltas_against_the_reference(tmp_path: Path, write_run: Callable[..., Path]) -> None:
    ref = write_run(tmp_path / "ref", None, {"ud:en_ewt:test": 0.95, "ud:fr_pud:test": 0.85})
    low = write_run(tmp_path / "ri01", "block.0-1",
                    {"ud:en_ewt:test": 0.94, "ud:fr_pud:test": 0.70})
    top = write_run(tmp_path / "ri1011", "block.10-11", {"ud:en_ewt:test": 0.955})
    table = transfer_table([ref, low, top])
    assert table.labels == ["REF", "RI block.0-1", "RI block.10-11"]
    text = table.render("markdown")
    assert "| ud:fr_pud:test | 85.00 | 70.00 (-15.00) | – (–) |" in text
    assert "| ud:en_ewt:test | 95.00 | 94.00 (-1.00) | 95.50 (+0.50) |" in text
    assert table.render("csv").splitlines()[0] == "dataset,REF,RI block.0-1 (Δ),RI block.10-11 (Δ)"
    latex = table.render("latex")
    assert r"\toprule" in latex and r"RI block.0-1 ($\Delta$)" in latex
    assert r"ud:fr\_pud:test & 85.00 & 70.00 (-15.00) & -- (--) \\" in latex  # escaped: compiles


@pytest.mark.filterwarnings("ignore::alignscope.errors.Deprecated")  # version-1 files
def test_evaluation_files_are_labelled_by_their_model(tmp_path: Path,
                                                     write_run: Callable[..., Path]) -> None:
    """evaluation.json says whether its checkpoint had layers re-drawn (schema 2), or takes it
    from the results.json beside it (schema 1)."""
    ref = write_run(tmp_path / "ref", None, {"ud:fr_pud:test": 0.85}, kind="evaluate")
    low = write_run(tmp_path / "ri", "block.0-1", {"ud:fr_pud:test": 0.7}, kind="evaluate")
    table = transfer_table([ref / "evaluation.json", low / "evaluation.json"])
    assert table.labels == ["REF", "RI block.0-1"]
    old = tmp_path / "v1"
    old.mkdir()
    shutil.copy(V1 / "finetune-ri.json", old / "results.json")
    shutil.copy(V1 / "evaluation.json", old / "evaluation.json")
    assert transfer_table([ref / "evaluation.json", old / "evaluation.json"]).labels == \
        ["REF", "RI block.0"]


def test_mixed_tasks_and_missing_runs_are_errors(tmp_path: Path,
                                                 write_run: Callable[..., Path]) -> None:
    pos = write_run(tmp_path / "pos", None, {"ud:en_ewt:test": 0.9})
    ner = write_run(tmp_path / "ner", None, {"ner:wikiann:en:test": 0.8}, metric="f1")
    with pytest.raises(AlignscopeError, match="different metrics"):
        transfer_table([pos, ner])
    result = CliRunner().invoke(app, ["table", str(pos), str(tmp_path / "absent")])
    assert result.exit_code == 2 and "absent not found" in result.output


def test_cli_writes_the_table(tmp_path: Path, write_run: Callable[..., Path]) -> None:
    ref = write_run(tmp_path / "ref", None, {"ud:en_ewt:test": 0.95})
    out = tmp_path / "tables"
    result = CliRunner().invoke(app, ["table", str(ref), "--labels", "mBERT", "--format", "csv",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "table.csv").read_text() == "dataset,mBERT\nud:en_ewt:test,95.00\n"
