"""How the CLI reports: literal text, two lines, exit 2 for user errors, a report request for bugs;
and valid inputs that earlier checks wrongly refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from alignscope.cli import _app
from alignscope.data.conllu import read_conllu
from alignscope.data.registry import resolve
from alignscope.errors import DataFormatError

SENTENCE = ("# sent_id = 1\n# text = du chat\n1-2\tdu\t_\t_\t_\t_\t_\t_\t_\t_\n"
            "1\tde\tde\tADP\t_\t_\t3\tcase\t_\t_\n2\tle\tle\tDET\t_\t_\t3\tdet\t_\t_\n"
            "2.1\tvu\tvoir\tVERB\t_\t_\t_\t_\t0:root\t_\n3\tchat\tchat\tNOUN\t_\t_\t0\troot\t_\t_\n\n")


def _run(action: object) -> tuple[int, str]:
    app = typer.Typer()

    @app.command()
    def main() -> None:
        _app.run_guarded(action)  # type: ignore[arg-type]

    result = CliRunner().invoke(app, [])
    return result.exit_code, result.output


def test_user_error_is_two_literal_lines_and_exit_2() -> None:
    def fail() -> None:
        raise DataFormatError("runs/:smile:/[bold]file.conllu", 100, "bad :x: line",
                              "fix [red]it[/red]")

    code, output = _run(fail)
    assert code == 2
    assert output == ("error: runs/:smile:/[bold]file.conllu:100: bad :x: line\n"
                      "  what to do: fix [red]it[/red]\n")


def test_a_bug_shows_its_traceback_and_asks_for_a_report() -> None:
    def bug() -> None:
        raise KeyError("internal")

    code, output = _run(bug)
    assert code == 1
    assert "Traceback" in output and "KeyError" in output
    assert "please report it" in output


def test_os_errors_name_the_file() -> None:
    def full() -> None:
        raise OSError(28, "No space left on device", "/data/out/results.json")

    code, output = _run(full)
    assert code == 2 and "/data/out/results.json: No space left on device" in output


def test_bom_conllu_with_any_name_is_read_as_conllu(tmp_path: Path) -> None:
    path = tmp_path / "my-sample.txt"
    path.write_bytes(b"\xef\xbb\xbf" + SENTENCE.encode("utf-8"))
    dataset = resolve(str(path), "train")
    assert dataset.format == "conllu"
    [sentence] = read_conllu(path)
    assert sentence.words == ("de", "le", "chat")  # range kept out, empty node skipped


@pytest.mark.parametrize(("old", "new", "needle"), [
    ("2.1\tvu", "1.1\tvu", "empty node 1.1 out of sequence, expected 2.1"),
    ("1-2\tdu", "1-1\tdu", "range 1-1 is empty or reversed"),
    ("1-2\tdu", "2-3\tdu", "must come right before word 2"),
])
def test_structure_of_ranges_and_empty_nodes(tmp_path: Path, old: str, new: str,
                                             needle: str) -> None:
    path = tmp_path / "s.conllu"
    path.write_text(SENTENCE.replace(old, new), encoding="utf-8")
    with pytest.raises(DataFormatError, match=needle):
        read_conllu(path)
