"""Dataset downloads without network: a local file:// mirror of the UD repositories (serving
a slice of the real en_ewt dev file) and fake fetchers / Hugging Face datasets."""

from __future__ import annotations

import functools
import io
import sys
import urllib.error
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from typer.testing import CliRunner

from alignscope.cli import app
from alignscope.cli import data as data_cli
from alignscope.data import download, registry
from alignscope.data.download import (
    RemoteFileMissing,
    download_ner,
    download_ud,
    fetch_url,
    ner_datasets,
    parse_treebank_name,
    wikiann_to_iob,
)
from alignscope.errors import AlignscopeError, ConfigError, UnknownNameError

# Slices of the real files, beside this module (tests/data/README.md); the whole ones if present.
DATA = Path(__file__).resolve().parent
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
EWT_DEV = DATA / "ud" / "UD_English-EWT" / "en_ewt-ud-dev.conllu"
WIKIANN_EN = DATA / "wikiann" / "en" / "train.conllu"
RELEASE = "r2.14"
TAGS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]


def first_sentences(path: Path, count: int) -> str:
    """The first `count` blank-line separated blocks of a file, as served upstream."""
    blocks = path.read_text(encoding="utf-8").split("\n\n")
    return "\n\n".join(blocks[:count]) + "\n\n"


@pytest.fixture
def ud_text() -> str:
    return first_sentences(EWT_DEV, 12)


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ALIGNSCOPE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("ALIGNSCOPE_DATA", raising=False)
    return tmp_path / "cache"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def mirror(root: Path, repo: str, files: dict[str, str], ref: str = RELEASE) -> str:
    """Lay out files as raw.githubusercontent.com serves them; return the base URL."""
    for name, text in files.items():
        path = root / repo / ref / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root.as_uri()


class CountingFetcher:
    """The real fetcher (file:// URLs), recording every URL asked for."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def __call__(self, url: str, destination: Path) -> None:
        self.urls.append(url)
        fetch_url(url, destination)


def files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file()) if path.exists() else []


# --- names and URLs ----------------------------------------------------------------------


@pytest.mark.parametrize(("name", "repo", "code"), [
    ("EN_EWT", "UD_English-EWT", "en_ewt"),
    ("en_ewt", "UD_English-EWT", "en_ewt"),
    ("UD_English-EWT", "UD_English-EWT", "en_ewt"),
    ("ud_english-ewt", "UD_English-EWT", "en_ewt"),
    ("zh_gsdsimp", "UD_Chinese-GSDSimp", "zh_gsdsimp"),
    ("FR_PARTUT", "UD_French-ParTUT", "fr_partut"),
    ("en_lines", "UD_English-LinES", "en_lines"),
    ("hi_hdtb", "UD_Hindi-HDTB", "hi_hdtb"),
    ("ar_padt", "UD_Arabic-PADT", "ar_padt"),
    ("fr_sequoia", "UD_French-Sequoia", "fr_sequoia"),
    ("grc_proiel", "UD_Ancient_Greek-PROIEL", "grc_proiel"),
    ("UD_Ancient_Greek-Perseus", "UD_Ancient_Greek-Perseus", "grc_perseus"),
    ("no_bokmaal", "UD_Norwegian-Bokmaal", "no_bokmaal"),
])
def test_treebank_names(name: str, repo: str, code: str) -> None:
    treebank = parse_treebank_name(name)
    assert (treebank.repo, treebank.file_code) == (repo, code)


def test_urls_point_at_the_release_in_the_official_repository() -> None:
    treebank = parse_treebank_name("EN_EWT")
    assert treebank.url("train") == ("https://raw.githubusercontent.com/UniversalDependencies/"
                                     "UD_English-EWT/r2.14/en_ewt-ud-train.conllu")
    assert parse_treebank_name("fr_pud").url("test", "master") == (
        "https://raw.githubusercontent.com/UniversalDependencies/"
        "UD_French-PUD/master/fr_pud-ud-test.conllu")


def test_names_match_the_real_repositories() -> None:
    """Every treebank folder of the slices (and of the whole data, if present) is found back
    from its file names."""
    folders = sorted(DATA.glob("ud/UD_*")) + sorted(SHARED.glob("ud/UD_*"))
    assert len(folders) >= 9
    for folder in folders:
        code = next(folder.glob("*-ud-*.conllu")).name.split("-ud-")[0]
        assert parse_treebank_name(code).repo == folder.name
        assert parse_treebank_name(folder.name).file_code == code


def test_bad_names_and_releases() -> None:
    with pytest.raises(UnknownNameError, match="xx"):
        parse_treebank_name("xx_ewt")
    with pytest.raises(UnknownNameError, match="English"):
        parse_treebank_name("UD_Englsh-EWT")
    with pytest.raises(ConfigError, match="EN_EWT"):
        parse_treebank_name("english")
    with pytest.raises(ConfigError, match="release"):
        download_ud("EN_EWT", release="2.14")


# --- fetching and caching ----------------------------------------------------------------


def test_download_places_files_where_the_registry_finds_them(tmp_path: Path, data_dir: Path,
                                                            ud_text: str) -> None:
    assert not registry.ud_treebanks(data_dir)  # primes the registry's index while empty
    base = mirror(tmp_path / "mirror", "UD_English-EWT",
                  {"en_ewt-ud-train.conllu": ud_text, "en_ewt-ud-dev.conllu": ud_text})
    result = download_ud("EN_EWT", data_dir=data_dir, base_url=base)
    assert (result.fetched, result.cached, result.missing) == (("train", "dev"), (), ("test",))
    folder = data_dir / "ud" / "UD_English-EWT"
    assert result.directory == folder
    resolved = registry.resolve("ud:en_ewt", role="train", data_dir=data_dir)
    assert resolved.path == folder / "en_ewt-ud-train.conllu"
    assert resolved.path.read_text(encoding="utf-8") == ud_text
    assert registry.resolve("ud:en_ewt", role="dev", data_dir=data_dir).path.is_file()


def test_cached_files_are_reused_without_network(tmp_path: Path, data_dir: Path,
                                                 isolated_cache: Path, ud_text: str) -> None:
    base = mirror(tmp_path / "mirror", "UD_English-EWT",
                  {f"en_ewt-ud-{split}.conllu": ud_text for split in ("train", "dev", "test")})
    fetcher = CountingFetcher()
    download_ud("en_ewt", data_dir=data_dir, base_url=base, fetch=fetcher)
    assert len(fetcher.urls) == 3
    cached = isolated_cache / "downloads" / RELEASE / "UD_English-EWT"
    assert [p.name for p in files_under(cached)] == [
        f"en_ewt-ud-{split}.conllu" for split in ("dev", "test", "train")]

    def offline(url: str, destination: Path) -> None:
        raise AssertionError(f"network used for {url}")

    (data_dir / "ud" / "UD_English-EWT" / "en_ewt-ud-dev.conllu").unlink()
    again = download_ud("UD_English-EWT", data_dir=data_dir, base_url=base, fetch=offline)
    assert again.cached == ("train", "dev", "test") and again.fetched == ()
    assert again.files["dev"].read_text(encoding="utf-8") == ud_text  # restored from the cache

    refreshed = download_ud("EN_EWT", data_dir=data_dir, base_url=base, fetch=fetcher,
                            refresh=True)
    assert refreshed.fetched == ("train", "dev", "test") and len(fetcher.urls) == 6


def test_missing_splits_are_skipped_but_not_all_of_them(tmp_path: Path, data_dir: Path,
                                                       ud_text: str) -> None:
    pud_text = first_sentences(DATA / "ud" / "UD_French-PUD" / "fr_pud-ud-test.conllu", 5)
    base = mirror(tmp_path / "mirror", "UD_French-PUD", {"fr_pud-ud-test.conllu": pud_text})
    result = download_ud("fr_pud", data_dir=data_dir, base_url=base)
    assert result.missing == ("train", "dev") and list(result.files) == ["test"]
    assert registry.resolve("ud:fr_pud", data_dir=data_dir).path == result.files["test"]

    with pytest.raises(AlignscopeError, match="UD_German-GSD has no train/dev/test file"):
        download_ud("de_gsd", data_dir=data_dir, base_url=base)
    assert not (data_dir / "ud" / "UD_German-GSD").exists()


def test_a_failed_download_leaves_nothing(tmp_path: Path, data_dir: Path, isolated_cache: Path,
                                          ud_text: str) -> None:
    def dies_midway(url: str, destination: Path) -> None:
        destination.write_text(ud_text[: len(ud_text) // 2], encoding="utf-8")
        raise ConnectionResetError("connection reset by peer")

    with pytest.raises(ConnectionResetError):
        download_ud("EN_EWT", data_dir=data_dir, fetch=dies_midway)
    assert files_under(isolated_cache) == [] and files_under(data_dir) == []


def test_a_truncated_file_is_rejected(tmp_path: Path, data_dir: Path, isolated_cache: Path,
                                      ud_text: str) -> None:
    cut = ud_text.index("\t", ud_text.index("\n1\t")) + 1  # inside the first token line
    base = mirror(tmp_path / "mirror", "UD_English-EWT", {"en_ewt-ud-train.conllu": ud_text[:cut]})
    with pytest.raises(AlignscopeError, match=r"not valid CoNLL-U.*nothing was saved"):
        download_ud("EN_EWT", data_dir=data_dir, base_url=base)
    assert files_under(isolated_cache) == [] and files_under(data_dir) == []


def test_fetch_url_maps_http_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def answer(code: int) -> Any:
        def urlopen(url: str, timeout: float) -> Any:
            raise urllib.error.HTTPError(url, code, "status", {}, io.BytesIO())  # type: ignore[arg-type]
        return urlopen

    monkeypatch.setattr(download.urllib.request, "urlopen", answer(404))
    with pytest.raises(RemoteFileMissing):
        fetch_url("https://example.org/x.conllu", tmp_path / "x")
    monkeypatch.setattr(download.urllib.request, "urlopen", answer(503))
    with pytest.raises(AlignscopeError, match="HTTP 503") as error:
        fetch_url("https://example.org/x.conllu", tmp_path / "x")
    assert not isinstance(error.value, RemoteFileMissing)


# --- WikiANN -----------------------------------------------------------------------------


class FakeSplit(list):
    """What `datasets` returns for a split: rows of dicts plus the ClassLabel names."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        super().__init__(rows)
        self.features = {"ner_tags": SimpleNamespace(feature=SimpleNamespace(names=TAGS))}


def wikiann_rows(text: str) -> list[dict[str, Any]]:
    """Turn 3-column text back into Hugging Face rows (tokens, tag ids)."""
    rows = []
    for block in text.strip("\n").split("\n\n"):
        columns = [line.split("\t") for line in block.split("\n")]
        rows.append({"tokens": [c[1] for c in columns],
                     "ner_tags": [TAGS.index(c[2]) for c in columns]})
    return rows


def test_wikiann_layout_matches_the_reference_files() -> None:
    text = first_sentences(WIKIANN_EN, 25)
    assert wikiann_to_iob(wikiann_rows(text), TAGS) == text


def test_wikiann_tokens_cannot_break_the_columns() -> None:
    rows = [{"tokens": ["New\tYork", ""], "ner_tags": [5, 0]}]
    assert wikiann_to_iob(rows, TAGS) == "0\tNew York\tB-LOC\n1\t_\tO\n\n"


def test_download_ner_writes_what_the_registry_resolves(data_dir: Path) -> None:
    rows = [{"tokens": ["Angela", "Merkel", "spricht"], "ner_tags": [1, 2, 0]},
            {"tokens": ["in", "Berlin"], "ner_tags": [0, 5]}]
    requested: list[str] = []

    def load(language: str) -> dict[str, FakeSplit]:
        requested.append(language)
        return {split: FakeSplit(rows) for split in ("train", "validation", "test")}

    written = download_ner("wikiann", ["DE"], data_dir=data_dir, load=load)
    assert requested == ["de"] and written == {"de": data_dir / "wikiann" / "de"}
    dev = registry.resolve("ner:wikiann:de", role="dev", data_dir=data_dir)
    assert dev.path == data_dir / "wikiann" / "de" / "val.conllu"
    assert dev.path.read_text(encoding="utf-8") == (
        "0\tAngela\tB-PER\n1\tMerkel\tI-PER\n2\tspricht\tO\n\n0\tin\tO\n1\tBerlin\tB-LOC\n\n")
    assert list(ner_datasets(data_dir)) == ["wikiann:de"]
    assert list(ner_datasets(data_dir)["wikiann:de"]) == ["train", "dev", "test"]


def test_ner_errors(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UnknownNameError, match="wikiann"):
        download_ner("wikian", ["de"], data_dir=data_dir)
    monkeypatch.setitem(sys.modules, "datasets", None)  # as if the `hf` extra were missing
    with pytest.raises(AlignscopeError, match=r"alignscope\[hf\]"):
        download_ner("wikiann", ["de"], data_dir=data_dir)
    assert files_under(data_dir) == []


# --- CLI ---------------------------------------------------------------------------------


def test_cli_download_and_list(tmp_path: Path, data_dir: Path, ud_text: str,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    base = mirror(tmp_path / "mirror", "UD_English-EWT", {"en_ewt-ud-dev.conllu": ud_text})
    monkeypatch.setattr(data_cli.api, "download_ud",
                        functools.partial(download.download_ud, base_url=base))
    runner = CliRunner()
    result = runner.invoke(app, ["data", "download", "ud", "EN_EWT", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    assert "UD_English-EWT" in result.output and "dev downloaded" in result.output
    listed = runner.invoke(app, ["data", "list", "--data-dir", str(data_dir)])
    assert listed.exit_code == 0 and "ud:en_ewt" in listed.output

    failed = runner.invoke(app, ["data", "download", "ud", "xx_foo", "--data-dir", str(data_dir)])
    assert failed.exit_code == 2 and "unknown UD language code" in failed.output
    no_language = runner.invoke(app, ["data", "download", "ner", "wikiann"])
    assert no_language.exit_code == 2 and "name the languages" in no_language.output
