"""Parallel corpora: PUD aligned by sent_id whatever the file order; line-aligned text files."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest

from alignscope.data.parallel import load_parallel
from alignscope.errors import ConfigError, DataFormatError, UnknownNameError


def pud_file(data_slices: Path, lang: str) -> Path:
    return next(data_slices.glob(f"ud/UD_*-PUD/{lang}_pud-ud-test.conllu"))


def blocks(path: Path) -> list[str]:
    return [b for b in path.read_text(encoding="utf-8").split("\n\n") if b.strip()]


def write_blocks(path: Path, items: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n\n".join(items) + "\n\n", encoding="utf-8")
    return path


def test_pud_is_aligned_by_sent_id(data_slices: Path) -> None:
    corpus = load_parallel("ud:pud", ["en", "fr", "de"], data_slices)
    assert len(corpus) == 100  # the slices: the first 100 sent_ids in every language
    assert corpus.languages == ("en", "fr", "de")
    assert corpus.ids[0] == "n01001011"
    assert corpus.texts["en"][0].startswith("“While much of the digital transition")
    assert [len(corpus.words[lang]) for lang in corpus.languages] == [100, 100, 100]
    assert corpus.words["fr"][0][:3] == ("«", "Alors", "que")


def test_file_order_does_not_matter(data_slices: Path, tmp_path: Path) -> None:
    """A French file in another order gives the same pairs (never align by position)."""
    items = blocks(pud_file(data_slices, "fr"))
    random.Random(0).shuffle(items)
    write_blocks(tmp_path / "UD_French-PUD/fr_pud-ud-test.conllu", items)
    shutil.copytree(pud_file(data_slices, "en").parent, tmp_path / "UD_English-PUD")
    shuffled = load_parallel("ud:pud", ["en", "fr"], tmp_path)
    original = load_parallel("ud:pud", ["en", "fr"], data_slices)
    assert shuffled.ids == original.ids  # the first language's order
    assert shuffled.texts == original.texts


def test_different_id_sets_name_the_first_missing_id(data_slices: Path, tmp_path: Path) -> None:
    items = blocks(pud_file(data_slices, "fr"))
    missing = items.pop(5).split("# sent_id = ")[1].split("\n")[0]
    write_blocks(tmp_path / "UD_French-PUD/fr_pud-ud-test.conllu", items)
    shutil.copytree(pud_file(data_slices, "en").parent, tmp_path / "UD_English-PUD")
    with pytest.raises(DataFormatError, match=rf"sent_id '{missing}'.*missing from the fr"):
        load_parallel("ud:pud", ["en", "fr"], tmp_path)
    with pytest.raises(DataFormatError, match=rf"sent_id '{missing}' is missing from the fr"):
        load_parallel("ud:pud", ["fr", "en"], tmp_path)


def test_duplicate_ids_are_refused(data_slices: Path, tmp_path: Path) -> None:
    items = blocks(pud_file(data_slices, "en"))[:3]
    path = write_blocks(tmp_path / "UD_English-PUD/en_pud-ud-test.conllu", items + items[:1])
    with pytest.raises(DataFormatError, match="duplicate sent_id") as error:
        load_parallel("ud:pud", ["en"], tmp_path)
    assert error.value.path == str(path)


def test_language_without_file_lists_the_available_ones(data_slices: Path) -> None:
    with pytest.raises(UnknownNameError, match=r"'xx'.*available: de, en, fr, ja, ru, zh"):
        load_parallel("ud:pud", ["en", "xx"], data_slices)
    with pytest.raises(ConfigError, match="given twice"):
        load_parallel("ud:pud", ["en", "en"], data_slices)


def test_subsampling_is_seeded_and_keeps_pairs(data_slices: Path) -> None:
    corpus = load_parallel("ud:pud", ["en", "de"], data_slices)
    first, again = corpus.subsample(50, seed=1), corpus.subsample(50, seed=1)
    other = corpus.subsample(50, seed=2)
    assert first.ids == again.ids and first.ids != other.ids
    assert len(first) == 50 and list(first.ids) == sorted(first.ids, key=corpus.ids.index)
    position = corpus.ids.index(first.ids[7])
    assert first.texts["de"][7] == corpus.texts["de"][position]
    assert corpus.head(3).ids == corpus.ids[:3]
    assert corpus.subsample(None) is corpus


def test_line_aligned_text_files(tmp_path: Path) -> None:
    (tmp_path / "c.en").write_text("The cat sleeps.\nA dog barks.\n", encoding="utf-8")
    (tmp_path / "c.fr").write_text("Le chat dort.\nUn chien aboie.\n", encoding="utf-8")
    corpus = load_parallel(str(tmp_path / "c.{lang}"), ["en", "fr"])
    assert corpus.texts["fr"] == ("Le chat dort.", "Un chien aboie.")
    assert corpus.words["en"][1] == ("A", "dog", "barks.")
    explicit = load_parallel(f"en={tmp_path / 'c.en'},fr={tmp_path / 'c.fr'}", ["fr", "en"])
    assert explicit.texts["en"] == corpus.texts["en"] and explicit.languages == ("fr", "en")


def test_bad_text_files_name_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "a.en").write_text("one\ntwo\nthree\n", encoding="utf-8")
    (tmp_path / "a.fr").write_text("un\ndeux\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"a\.fr: 2 lines but .*a\.en has 3"):
        load_parallel(str(tmp_path / "a.{lang}"), ["en", "fr"])
    (tmp_path / "b.en").write_text("", encoding="utf-8")
    with pytest.raises(DataFormatError, match="file is empty"):
        load_parallel(str(tmp_path / "b.{lang}"), ["en"])
    (tmp_path / "c.en").write_text("one\n\nthree\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"c\.en:2: empty line"):
        load_parallel(str(tmp_path / "c.{lang}"), ["en"])
    with pytest.raises(DataFormatError, match="file not found"):
        load_parallel(str(tmp_path / "missing.{lang}"), ["en"])
    with pytest.raises(UnknownNameError, match="'de'"):
        load_parallel(f"en={tmp_path / 'a.en'}", ["en", "de"])
    with pytest.raises(ConfigError, match="cannot read --parallel"):
        load_parallel("corpus.txt", ["en"])
