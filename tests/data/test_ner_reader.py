"""IOB2 reader/writer: WikiANN layout, CoNLL-2003 style, and line-precise errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from alignscope.data.ner import read_iob, write_iob
from alignscope.errors import DataFormatError


def write(tmp_path: Path, text: str, name: str = "data.iob") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_the_wikiann_layout(data_slices: Path) -> None:
    wikiann_en = data_slices / "wikiann" / "en" / "train.conllu"
    sentences = read_iob(wikiann_en, limit=2)
    assert [len(s) for s in sentences] == [11, 7]
    first = sentences[0]
    assert first.words[:2] == ("R.H.", "Saunders")
    assert first.ner_tags[:4] == ("B-ORG", "I-ORG", "O", "B-ORG")
    assert (first.path, first.line, sentences[1].line) == (str(wikiann_en), 1, 13)


def test_reads_conll2003_style_with_docstart_and_spaces(tmp_path: Path) -> None:
    path = write(tmp_path, "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n"
                           "German JJ B-NP B-MISC\n\nPeter NNP B-NP B-PER\n"
                           "Blackburn NNP I-NP I-PER\n")
    sentences = read_iob(path)
    assert [s.words for s in sentences] == [("EU", "rejects", "German"), ("Peter", "Blackburn")]
    assert sentences[0].ner_tags == ("B-ORG", "O", "B-MISC")
    assert sentences[1].line == 7


def test_two_column_tab_file_and_limit(tmp_path: Path) -> None:
    path = write(tmp_path, "Paris\tB-LOC\n\nBerlin\tB-LOC\nis\tO\n\n\nRome\tB-LOC\n")
    assert [s.words for s in read_iob(path, limit=2)] == [("Paris",), ("Berlin", "is")]


def test_round_trip_keeps_every_column(tmp_path: Path) -> None:
    text = "0\tKarl\tB-PER\n1\tOve\tI-PER\n2\t(\tO\n\n0\tOslo\tB-LOC\n\n"
    sentences = read_iob(write(tmp_path, text))
    out = tmp_path / "out" / "pred.iob"
    write_iob(out, sentences, [s.ner_tags for s in sentences])
    assert out.read_text(encoding="utf-8") == text
    write_iob(out, sentences, [["O", "B-ORG", "O"], ["O"]])
    assert out.read_text(encoding="utf-8").splitlines()[1] == "1\tOve\tB-ORG"


@pytest.mark.parametrize(("text", "line", "problem"), [
    ("0\tKarl\tB-PER\n1\tOve\tI-LOC\n", 2, "I-LOC follows B-PER"),
    ("0\tA\tO\n\n0\tKarl\tO\n1\tOve\tI-PER\n", 4, "I-PER follows O"),
    ("0\tKarl\tI-PER\n", 1, "I-PER follows O"),
    ("0\tKarl\tS-PER\n", 1, "invalid NER tag 'S-PER'"),
    ("0\tKarl\tB-PER\n2\tOve\tI-PER\n", 2, "index '2', expected 1"),
    ("0\tKarl\tB-PER\n1\tOve\n", 2, "found 2 columns"),
    ("Karl\tB-PER\nOve\n", 2, "found 1 column(s)"),
    ("Karl\tB-PER\n\tO\n", 2, "empty token"),
])
def test_bad_lines_are_named(tmp_path: Path, text: str, line: int, problem: str) -> None:
    with pytest.raises(DataFormatError) as error:
        read_iob(write(tmp_path, text))
    assert error.value.line == line
    assert problem in error.value.problem


@pytest.mark.parametrize("text", ["", "\n\n", "-DOCSTART- O\n\n"])
def test_empty_file_is_an_error(tmp_path: Path, text: str) -> None:
    with pytest.raises(DataFormatError, match="holds no sentence"):
        read_iob(write(tmp_path, text))


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="not found"):
        read_iob(tmp_path / "absent.conllu")
