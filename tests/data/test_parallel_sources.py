"""FLORES+ through an injected loader (no network here) and folders of line files."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from alignscope.data import parallel
from alignscope.data.parallel import load_flores, load_parallel
from alignscope.errors import AlignscopeError, ConfigError, DataFormatError

SENTENCES = {
    "eng_Latn": ["The cat sleeps.", "It rains today.", "We read a book."],
    "fra_Latn": ["Le chat dort.", "Il pleut aujourd'hui.", "Nous lisons un livre."],
    "deu_Latn": ["Die Katze schläft.", "Heute regnet es.", "Wir lesen ein Buch."],
}


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ALIGNSCOPE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


class Hub:
    """Stands in for `datasets.load_dataset(..., lang, split=...)`: rows with id and text, the
    German ones in another order; records what was asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def __call__(self, lang: str, split: str) -> list[dict]:
        self.calls.append((lang, split))
        rows = [{"id": i + 1, "iso_639_3": lang[:3], "text": text}
                for i, text in enumerate(SENTENCES[lang])]
        return rows[::-1] if lang == "deu_Latn" else rows


def test_flores_rows_are_aligned_by_id_and_cached(private_cache: Path) -> None:
    hub = Hub()
    corpus = load_flores("flores:devtest", ["eng_Latn", "deu_Latn"], hub)
    assert corpus.ids == ("1", "2", "3")
    assert corpus.texts["deu_Latn"] == tuple(SENTENCES["deu_Latn"])
    assert corpus.words["eng_Latn"][0] == ("The", "cat", "sleeps.")
    assert corpus.sources["eng_Latn"] == "openlanguagedata/flores_plus:eng_Latn:devtest"
    assert hub.calls == [("eng_Latn", "devtest"), ("deu_Latn", "devtest")]
    assert (private_cache / "flores_plus/devtest/deu_Latn.json").is_file()

    def offline(lang: str, split: str) -> list[dict]:
        raise AssertionError("the cache must answer")

    again = load_flores("flores:devtest", ["eng_Latn", "deu_Latn"], offline)
    assert again == corpus
    load_flores("flores:dev", ["eng_Latn"], hub)
    assert hub.calls[-1] == ("eng_Latn", "dev")


def test_flores_through_load_parallel_uses_the_default_loader(monkeypatch: pytest.MonkeyPatch,
                                                              ) -> None:
    monkeypatch.setattr(parallel, "_load_flores_hub", Hub())
    corpus = load_parallel("flores:devtest", ["fra_Latn", "eng_Latn"])
    assert corpus.languages == ("fra_Latn", "eng_Latn") and len(corpus) == 3


def test_flores_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="fra_Latn"):
        load_flores("flores:devtest", ["en", "fr"], Hub())
    with pytest.raises(ConfigError, match="flores:devtest or flores:dev"):
        load_flores("flores:test", ["eng_Latn"], Hub())

    def short(lang: str, split: str) -> list[dict]:
        return Hub()(lang, split)[: 2 if lang == "fra_Latn" else 3]

    with pytest.raises(DataFormatError, match=r"fra_Latn and eng_Latn differ.*id 3"):
        load_flores("flores:dev", ["eng_Latn", "fra_Latn"], short)

    def failing(*args: object, **kwargs: object) -> None:
        raise ConnectionError("no network")

    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=failing))
    with pytest.raises(AlignscopeError, match=r"cannot load FLORES\+ deu_Latn.*no network.*gated"):
        load_parallel("flores:devtest", ["deu_Latn"])


def write_folder(folder: Path, names: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for lang, name in names.items():
        (folder / name).write_text("\n".join(SENTENCES[lang]) + "\n", encoding="utf-8")
    return folder


def test_folder_of_line_files_by_language_code(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "devtest", {"eng_Latn": "eng_Latn.devtest",
                                                 "fra_Latn": "fra_Latn.txt",
                                                 "deu_Latn": "deu_Latn"})
    (folder / ".hidden").write_text("x\n", encoding="utf-8")
    corpus = load_parallel(str(folder), ["eng_Latn", "fra_Latn", "deu_Latn"])
    assert corpus.texts["fra_Latn"] == tuple(SENTENCES["fra_Latn"])
    assert corpus.sources["eng_Latn"] == str(folder / "eng_Latn.devtest")
    short = write_folder(tmp_path / "short", {"eng_Latn": "en.txt", "fra_Latn": "fr.txt"})
    assert load_parallel(str(short), ["en", "fr"]).ids == ("1", "2", "3")


def test_folder_errors_name_the_files(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "c", {"eng_Latn": "eng_Latn.txt", "fra_Latn": "fra_Latn.txt"})
    with pytest.raises(DataFormatError, match=r"no file for language 'deu_Latn'.*present: "
                                              "eng_Latn, fra_Latn"):
        load_parallel(str(folder), ["eng_Latn", "deu_Latn"])
    (folder / "fra_Latn.txt").write_text("Le chat dort.\nIl pleut.\n", encoding="utf-8")
    with pytest.raises(DataFormatError) as error:
        load_parallel(str(folder), ["eng_Latn", "fra_Latn"])
    assert "fra_Latn.txt" in str(error.value) and "eng_Latn.txt has 3" in str(error.value)
    (folder / "fra_Latn.dev").write_text("x\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match="several files for language 'fra_Latn'"):
        load_parallel(str(folder), ["fra_Latn"])
    with pytest.raises(ConfigError, match="not a folder"):
        load_parallel(str(tmp_path / "missing"), ["eng_Latn"])


def test_a_damaged_flores_cache_file_is_named(private_cache: Path) -> None:
    cached = private_cache / "flores_plus" / "dev" / "eng_Latn.json"
    cached.parent.mkdir(parents=True)
    cached.write_text('{"1": "The cat', encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"eng_Latn\.json.*not valid JSON"):
        load_flores("flores:dev", ["eng_Latn"], Hub())
