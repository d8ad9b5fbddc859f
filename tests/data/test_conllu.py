from __future__ import annotations

import csv
from pathlib import Path

import pytest

from alignscope.data.conllu import read_conllu, write_conllu
from alignscope.data.ner import read_iob
from alignscope.data.parallel import load_parallel
from alignscope.errors import DataFormatError

HEADER = "# sent_id = s1\n# text = Il parle du chat.\n"
GOOD = (
    "1\tIl\til\tPRON\t_\t_\t2\tnsubj\t_\t_\n"
    "2\tparle\tparler\tVERB\t_\t_\t0\troot\t_\t_\n"
    "3-4\tdu\t_\t_\t_\t_\t_\t_\t_\t_\n"
    "3\tde\tde\tADP\t_\t_\t5\tcase\t_\t_\n"
    "4\tle\tle\tDET\t_\t_\t5\tdet\t_\t_\n"
    "4.1\tparle\tparler\tVERB\t_\t_\t_\t_\t0:root\t_\n"
    "5\tchat\tchat\tNOUN\t_\t_\t2\tobl\t_\tSpaceAfter=No\n"
    "6\t.\t.\tPUNCT\t_\t_\t2\tpunct\t_\t_\n"
)


def write(tmp_path: Path, body: str, name: str = "x.conllu") -> Path:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


def test_multiword_tokens_and_empty_nodes_give_syntactic_words(tmp_path: Path) -> None:
    [sentence] = read_conllu(write(tmp_path, HEADER + GOOD + "\n"))
    assert sentence.words == ("Il", "parle", "de", "le", "chat", ".")
    assert sentence.upos == ("PRON", "VERB", "ADP", "DET", "NOUN", "PUNCT")
    assert sentence.heads == (2, 0, 5, 5, 2, 2)
    assert sentence.deprels[4] == "obl"
    assert (sentence.sent_id, sentence.text) == ("s1", "Il parle du chat.")
    assert sentence.line == 1


@pytest.mark.parametrize(("line", "needle"), [
    ("2\tparle\tparler\tVERB\t_\t_\t0\troot\t_\n", "expected 10 tab-separated columns, found 9"),
    ("2\tparle\tparler\tVERB\t_\t_\tzero\troot\t_\t_\n", "HEAD 'zero' is not an integer"),
    ("2\tparle\tparler\tVREB\t_\t_\t0\troot\t_\t_\n", "unknown UPOS tag 'VREB'"),
    ("2\tparle\tparler\tVERB\t_\t_\t9\troot\t_\t_\n", "HEAD 9 points outside the sentence"),
])
def test_bad_lines_name_file_and_line(tmp_path: Path, line: str, needle: str) -> None:
    lines = GOOD.splitlines(keepends=True)
    lines[1] = line
    path = write(tmp_path, HEADER + "".join(lines) + "\n")
    with pytest.raises(DataFormatError) as error:
        read_conllu(path)
    assert f"{path}:4" in str(error.value)
    assert needle in str(error.value)


def test_cycle_in_gold_tree_is_an_error(tmp_path: Path) -> None:
    body = ("1\ta\ta\tDET\t_\t_\t2\tdet\t_\t_\n2\tb\tb\tNOUN\t_\t_\t1\tnsubj\t_\t_\n"
            "3\tc\tc\tVERB\t_\t_\t0\troot\t_\t_\n\n")
    with pytest.raises(DataFormatError, match="cycle"):
        read_conllu(write(tmp_path, body))


def test_empty_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="holds no sentence"):
        read_conllu(write(tmp_path, "\n\n"))
    with pytest.raises(DataFormatError, match="file not found"):
        read_conllu(tmp_path / "absent.conllu")


def manifest(data: Path) -> dict[str, dict[str, str]]:
    with open(data / "MANIFEST.tsv", encoding="utf-8") as handle:
        return {row["path"]: row for row in csv.DictReader(handle, delimiter="\t")}


def test_the_slices_match_their_manifest_counts(data_slices: Path) -> None:
    rows = manifest(data_slices)
    assert sorted(path.split("/")[0] for path in rows) == ["ud"] * 13 + ["wikiann"] * 6
    for relative, row in rows.items():
        reader = read_conllu if relative.startswith("ud/") else read_iob
        sentences = reader(data_slices / relative)
        assert len(sentences) == int(row["sentences"]), relative
        assert sum(len(s) for s in sentences) == int(row["tokens"]), relative


@pytest.mark.slow
def test_whole_treebanks_match_the_manifest_counts(shared_data: Path) -> None:
    rows = manifest(shared_data)
    for relative in ("ud/UD_English-EWT/en_ewt-ud-dev.conllu",
                     "ud/UD_French-PUD/fr_pud-ud-test.conllu",
                     "ud/UD_Japanese-PUD/ja_pud-ud-test.conllu"):
        sentences = read_conllu(shared_data / relative)
        assert len(sentences) == int(rows[relative]["sentences"])
        assert sum(len(s) for s in sentences) == int(rows[relative]["tokens"])
    # The 16 PUD files hold the same 1,000 sentences: every one aligns by its sent_id.
    languages = sorted(path.name[:2] for path in shared_data.glob("ud/UD_*-PUD/*.conllu"))
    corpus = load_parallel("ud:pud", languages, shared_data)
    assert (len(languages), len(corpus), corpus.ids[0]) == (16, 1000, "n01001011")


def test_french_contractions_are_split(data_slices: Path) -> None:
    first = read_conllu(data_slices / "ud/UD_French-PUD/fr_pud-ud-test.conllu", limit=1)[0]
    assert "aux" in first.text and "aux" not in first.words
    assert first.words[14:16] == ("à", "les")


def test_write_back_keeps_other_columns(tmp_path: Path) -> None:
    [sentence] = read_conllu(write(tmp_path, HEADER + GOOD + "\n"))
    out = tmp_path / "pred.conllu"
    write_conllu(out, [sentence], upos=[["X"] * 6])
    text = out.read_text(encoding="utf-8")
    assert "3-4\tdu\t" in text and "4.1\tparle" in text and "SpaceAfter=No" in text
    [again] = read_conllu(out)
    assert again.upos == ("X",) * 6 and again.heads == sentence.heads
    # The gold sentence is untouched: writing it again without predictions gives the input.
    assert all(token["upos"] != "X" for token in sentence.source if isinstance(token["id"], int))
    write_conllu(tmp_path / "gold.conllu", [sentence])
    assert read_conllu(tmp_path / "gold.conllu")[0].upos == sentence.upos


def test_a_byte_order_mark_is_tolerated(tmp_path: Path) -> None:
    [sentence] = read_conllu(write(tmp_path, "\ufeff" + HEADER + GOOD + "\n"))
    assert sentence.sent_id == "s1" and len(sentence) == 6


def test_writing_a_real_treebank_back_gives_its_lines(data_slices: Path, tmp_path: Path) -> None:
    # FEATS, DEPS and MISC are kept as raw text: every column must survive a round trip.
    path = data_slices / "ud/UD_French-PUD/fr_pud-ud-test.conllu"
    sentences = read_conllu(path, limit=20)
    write_conllu(tmp_path / "back.conllu", sentences)
    original = [line for line in path.read_text(encoding="utf-8").splitlines()
                if line and not line.startswith("#")][:sum(len(s.source) for s in sentences)]
    written = [line for line in (tmp_path / "back.conllu").read_text(encoding="utf-8").splitlines()
               if line and not line.startswith("#")]
    assert written == original
