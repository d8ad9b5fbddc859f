from __future__ import annotations

from pathlib import Path

import pytest

from alignscope.data.registry import DatasetRef, parse_ref, resolve, ud_treebanks
from alignscope.errors import AlignscopeError, UnknownNameError


def test_ud_reference_picks_split_by_role(data_slices: Path) -> None:
    assert resolve("ud:en_ewt", "train", data_slices).path.name == "en_ewt-ud-train.conllu"
    assert resolve("ud:en_ewt", "dev", data_slices).path.name == "en_ewt-ud-dev.conllu"
    evaluated = resolve("ud:en_ewt", "eval", data_slices)
    assert evaluated.path.name == "en_ewt-ud-test.conllu"
    assert (evaluated.language, evaluated.name) == ("en", "ud:en_ewt:test")
    explicit = resolve("ud:fr_pud:test", "train", data_slices)
    assert explicit.split == "test" and explicit.language == "fr"


def test_data_dir_from_environment(data_slices: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALIGNSCOPE_DATA", str(data_slices))
    assert resolve("ud:de_gsd").path.name == "de_gsd-ud-test.conllu"


def test_unknown_treebank_lists_close_matches(data_slices: Path) -> None:
    with pytest.raises(UnknownNameError, match="did you mean en_ewt"):
        resolve("ud:en_ewd", "train", data_slices)


def test_missing_split_says_which_exist(data_slices: Path) -> None:
    with pytest.raises(AlignscopeError, match=r"fr_gsd has no train split .*\(it has: dev, test\)"):
        resolve("ud:fr_gsd", "train", data_slices)


def test_ner_and_file_references(data_slices: Path) -> None:
    ner = resolve("ner:wikiann:de", "dev", data_slices)
    assert ner.path.name == "val.conllu" and ner.format == "iob" and ner.language == "de"
    path = data_slices / "ud/UD_German-GSD/de_gsd-ud-dev.conllu"
    as_file = resolve(str(path), "eval", data_slices)
    assert as_file.language == "de" and as_file.format == "conllu"


def test_bad_references() -> None:
    with pytest.raises(AlignscopeError, match="bad split"):
        parse_ref("ud:en_ewt:validation")
    with pytest.raises(AlignscopeError, match="does not exist"):
        resolve("/no/such/file.conllu")


def test_symlinked_treebank_folders_are_found(data_slices: Path, tmp_path: Path) -> None:
    """A data directory whose treebank folders are links into a UD release (and a link cycle,
    which must not loop)."""
    (tmp_path / "ud").mkdir()
    (tmp_path / "ud" / "UD_French-PUD").symlink_to(data_slices / "ud" / "UD_French-PUD",
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
