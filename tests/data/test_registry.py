from __future__ import annotations

from pathlib import Path

import pytest

from alignscope.data.registry import parse_ref, resolve
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
    with pytest.raises(UnknownNameError, match="did you mean: en_ewt"):
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
