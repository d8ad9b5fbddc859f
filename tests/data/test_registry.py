from __future__ import annotations

from pathlib import Path

import pytest

from alignscope.data.registry import DatasetRef, parse_ref, resolve, ud_treebanks
from alignscope.errors import AlignscopeError, UnknownNameError


def test_ud_reference_picks_split_by_role(shared_data: Path) -> None:
    assert resolve("ud:en_ewt", "train", shared_data).path.name == "en_ewt-ud-train.conllu"
    assert resolve("ud:en_ewt", "dev", shared_data).path.name == "en_ewt-ud-dev.conllu"
    evaluated = resolve("ud:en_ewt", "eval", shared_data)
    assert evaluated.path.name == "en_ewt-ud-test.conllu"
    assert (evaluated.language, evaluated.name) == ("en", "ud:en_ewt:test")
    explicit = resolve("ud:fr_pud:test", "train", shared_data)
    assert explicit.split == "test" and explicit.language == "fr"


def test_data_dir_from_environment(shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALIGNSCOPE_DATA", str(shared_data))
    assert resolve("ud:de_gsd").path.name == "de_gsd-ud-test.conllu"


def test_unknown_treebank_lists_close_matches(shared_data: Path) -> None:
    with pytest.raises(UnknownNameError, match="did you mean en_ewt"):
        resolve("ud:en_ewd", "train", shared_data)


def test_missing_split_says_which_exist(shared_data: Path) -> None:
    with pytest.raises(AlignscopeError, match=r"fr_gsd has no train split .*\(it has: dev, test\)"):
        resolve("ud:fr_gsd", "train", shared_data)


def test_ner_and_file_references(shared_data: Path) -> None:
    ner = resolve("ner:wikiann:de", "dev", shared_data)
    assert ner.path.name == "val.conllu" and ner.format == "iob" and ner.language == "de"
    path = shared_data / "ud/UD_German-GSD/de_gsd-ud-dev.conllu"
    as_file = resolve(str(path), "eval", shared_data)
    assert as_file.language == "de" and as_file.format == "conllu"


def test_bad_references() -> None:
    with pytest.raises(AlignscopeError, match="bad split"):
        parse_ref("ud:en_ewt:validation")
    with pytest.raises(AlignscopeError, match="does not exist"):
        resolve("/no/such/file.conllu")


def test_symlinked_treebank_folders_are_found(shared_data: Path, tmp_path: Path) -> None:
    """A data directory whose treebank folders are links into a UD release (and a link cycle,
    which must not loop)."""
    (tmp_path / "ud").mkdir()
    (tmp_path / "ud" / "UD_French-PUD").symlink_to(shared_data / "ud" / "UD_French-PUD",
                                                   target_is_directory=True)
    (tmp_path / "ud" / "loop").symlink_to(tmp_path / "ud", target_is_directory=True)
    dataset = resolve("ud:fr_pud", data_dir=tmp_path)
    assert dataset.path.name == "fr_pud-ud-test.conllu" and dataset.path.is_file()
    assert list(ud_treebanks(tmp_path)) == ["fr_pud"]


def test_one_parser_for_references_and_schemes(tmp_path: Path) -> None:
    assert parse_ref("ud:FR_PUD:test") == DatasetRef("ud", "fr_pud", "test")
    assert parse_ref("ner:wikiann:DE") == DatasetRef("ner", "wikiann:de", None)
    assert parse_ref("corpus/fr.conllu") == DatasetRef("file", "corpus/fr.conllu")
    with pytest.raises(AlignscopeError, match=r"bad ner reference 'ner:wikiann'.*CORPUS:LANG"):
        parse_ref("ner:wikiann")
    with pytest.raises(UnknownNameError, match=r"dataset scheme 'uud'; did you mean ud\?"):
        resolve("uud:fr_pud", data_dir=tmp_path)
