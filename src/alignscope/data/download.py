"""Fetch UD treebanks from the official GitHub repositories and WikiANN from Hugging Face.

UD files come from `raw.githubusercontent.com/UniversalDependencies/UD_<Language>-<Name>` at
a release tag (`r2.14` by default; `master` for the latest commits). Each file is downloaded
once into `<cache>/downloads/<release>/<repo>/`, checked to parse as CoNLL-U, then published
by an atomic rename and linked (or copied) into `<data>/ud/<repo>/`, where `ud:en_ewt`
resolves. WikiANN (the Rahimi et al. 2019 splits) is read with the optional `datasets`
package and written as `<data>/wikiann/<lang>/{train,val,test}.conllu`, 3-column IOB2.
"""

from __future__ import annotations

import os
import re
import shutil
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alignscope.data import registry
from alignscope.data.conllu import read_conllu
from alignscope.errors import AlignscopeError, ConfigError, DataFormatError, UnknownNameError
from alignscope.io import atomic_directory, atomic_file

DEFAULT_UD_RELEASE = "r2.14"
UD_BASE_URL = "https://raw.githubusercontent.com/UniversalDependencies"
WIKIANN_HF_ID = "unimelb-nlp/wikiann"
NER_CORPORA = ("wikiann",)
_RELEASE = re.compile(r"^(r[0-9]+\.[0-9]+|master|dev|[0-9a-f]{40})$")
_REPO_NAME = re.compile(r"^UD_([A-Za-z_]+)-([A-Za-z0-9]+)$", re.IGNORECASE)
_SHORT_NAME = re.compile(r"^([A-Za-z]{2,3})_([A-Za-z0-9]+)$")
# WikiANN split names on the Hugging Face hub -> alignscope's splits.
_WIKIANN_SPLITS = {"train": "train", "validation": "dev", "test": "test"}

# ISO 639 code -> language as spelled in UD repository names.
UD_LANGUAGES: dict[str, str] = {
    "af": "Afrikaans", "akk": "Akkadian", "am": "Amharic", "ar": "Arabic", "be": "Belarusian",
    "bg": "Bulgarian", "bm": "Bambara", "br": "Breton", "bxr": "Buryat", "ca": "Catalan",
    "cop": "Coptic", "cs": "Czech", "cu": "Old_Church_Slavonic", "cy": "Welsh", "da": "Danish",
    "de": "German", "el": "Greek", "en": "English", "es": "Spanish", "et": "Estonian",
    "eu": "Basque", "fa": "Persian", "fi": "Finnish", "fo": "Faroese", "fr": "French",
    "fro": "Old_French", "ga": "Irish", "gd": "Scottish_Gaelic", "gl": "Galician",
    "got": "Gothic", "grc": "Ancient_Greek", "he": "Hebrew", "hi": "Hindi", "hr": "Croatian",
    "hsb": "Upper_Sorbian", "hu": "Hungarian", "hy": "Armenian", "id": "Indonesian",
    "is": "Icelandic", "it": "Italian", "ja": "Japanese", "kk": "Kazakh", "kmr": "Kurmanji",
    "ko": "Korean", "kpv": "Komi_Zyrian", "la": "Latin", "lt": "Lithuanian", "lv": "Latvian",
    "lzh": "Classical_Chinese", "mr": "Marathi", "mt": "Maltese", "myv": "Erzya",
    "nl": "Dutch", "no": "Norwegian", "orv": "Old_East_Slavic", "pcm": "Naija", "pl": "Polish",
    "pt": "Portuguese", "ro": "Romanian", "ru": "Russian", "sa": "Sanskrit", "sk": "Slovak",
    "sl": "Slovenian", "sme": "North_Sami", "sq": "Albanian", "sr": "Serbian", "sv": "Swedish",
    "ta": "Tamil", "te": "Telugu", "th": "Thai", "tl": "Tagalog", "tr": "Turkish",
    "ug": "Uyghur", "uk": "Ukrainian", "ur": "Urdu", "vi": "Vietnamese", "wo": "Wolof",
    "yo": "Yoruba", "zh": "Chinese",
}
# Treebank names whose repository spelling is not simply upper case (EWT, GSD, PUD, PADT...).
_MIXED_CASE_TREEBANKS = {name.lower(): name for name in (
    "AfriBooms", "Alpino", "AnCora", "ArmTDP", "Atis", "Birchbark", "Bokmaal", "Bosque",
    "FarPaHC", "FicTree", "FrameNet", "GSDSimp", "GUMReddit", "Giella", "IAHLTwiki", "IcePaHC",
    "Kaist", "Kenet", "Kyoto", "LassySmall", "Lattice", "LinES", "MarkIT", "Modern",
    "Nonstandard", "Nynorsk", "NynorskLIA", "ParTUT", "ParisStories", "Penn", "PerDT",
    "Perseus", "PetroGold", "PoSTWITA", "Pronouns", "Rhapsodie", "Scriptorium", "Seraji",
    "Sequoia", "SiMoNERo", "SynTagRus", "Szeged", "Taiga", "Talbanken", "Tourism", "TreeGal",
    "UDante", "Ugnayan", "Vedic",
)}
Fetcher = Callable[[str, Path], None]
"""Downloads a URL into a file; raises `RemoteFileMissing` when the server has no such file."""


class RemoteFileMissing(AlignscopeError):
    """The server answered 404 (or the file:// path does not exist)."""


def fetch_url(url: str, destination: Path, timeout: float = 60.0) -> None:
    """Download `url` into `destination` with urllib (http(s) or file URLs)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, \
                destination.open("wb") as out:
            shutil.copyfileobj(response, out, 1 << 20)
    except urllib.error.HTTPError as error:
        if error.code == 404:
            raise RemoteFileMissing(f"{url}: not found") from None
        raise AlignscopeError(f"cannot download {url}: HTTP {error.code} {error.reason}") from None
    except urllib.error.URLError as error:
        if isinstance(error.reason, FileNotFoundError):
            raise RemoteFileMissing(f"{url}: not found") from None
        raise AlignscopeError(f"cannot download {url}: {error.reason} (is there internet "
                              "access? behind a proxy, set HTTPS_PROXY)") from None
    except OSError as error:  # timeouts and connections reset mid-transfer
        raise AlignscopeError(f"cannot download {url}: {error}") from None


@dataclass(frozen=True)
class UDTreebank:
    """A UD treebank: `code` en, `language` English, `name` EWT -> repo UD_English-EWT."""

    code: str
    language: str
    name: str

    @property
    def repo(self) -> str:
        return f"UD_{self.language}-{self.name}"

    @property
    def file_code(self) -> str:
        """The prefix of its files and its `ud:` reference, e.g. `en_ewt`."""
        return f"{self.code}_{self.name.lower()}"

    def filename(self, split: str) -> str:
        return f"{self.file_code}-ud-{split}.conllu"

    def url(self, split: str, release: str = DEFAULT_UD_RELEASE,
            base_url: str = UD_BASE_URL) -> str:
        return f"{base_url.rstrip('/')}/{self.repo}/{release}/{self.filename(split)}"


def parse_treebank_name(name: str) -> UDTreebank:
    """Accept `EN_EWT`, `en_ewt` or `UD_English-EWT`."""
    text = name.strip()
    if match := _REPO_NAME.match(text):
        by_name = {language.lower(): code for code, language in UD_LANGUAGES.items()}
        language = match[1].lower()
        if language not in by_name:
            raise UnknownNameError("UD language", match[1], list(UD_LANGUAGES.values()))
        code = by_name[language]
        treebank = match[2] if text.startswith("UD_") else _treebank_spelling(match[2])
        return UDTreebank(code, UD_LANGUAGES[code], treebank)
    if match := _SHORT_NAME.match(text):
        code = match[1].lower()
        if code not in UD_LANGUAGES:
            raise UnknownNameError("UD language code", code, list(UD_LANGUAGES))
        return UDTreebank(code, UD_LANGUAGES[code], _treebank_spelling(match[2]))
    raise ConfigError(f"bad treebank name {name!r}: write EN_EWT, en_ewt or UD_English-EWT")


def _treebank_spelling(name: str) -> str:
    return _MIXED_CASE_TREEBANKS.get(name.lower(), name.upper())


def _check_release(release: str) -> None:
    if not _RELEASE.match(release):
        raise ConfigError(f"bad UD release {release!r}: use a release tag such as "
                          f"{DEFAULT_UD_RELEASE}, or master")


@dataclass(frozen=True)
class UDDownload:
    treebank: UDTreebank
    release: str
    files: dict[str, Path]  # split -> file in the data directory
    fetched: tuple[str, ...]  # splits downloaded now
    cached: tuple[str, ...]  # splits taken from the download cache
    missing: tuple[str, ...]  # splits the release does not have (e.g. PUD: train, dev)

    @property
    def directory(self) -> Path:
        return next(iter(self.files.values())).parent


def download_ud(name: str, *, release: str = DEFAULT_UD_RELEASE,
                data_dir: str | Path | None = None, fetch: Fetcher = fetch_url,
                base_url: str = UD_BASE_URL, refresh: bool = False) -> UDDownload:
    """Fetch the train/dev/test files of one treebank into the data directory.

    A file already in the cache is reused without network access unless `refresh`
    (useful with `master`, which moves). A split missing upstream is skipped; a treebank
    with no split at all is an error.
    """
    _check_release(release)
    treebank = parse_treebank_name(name)
    cache = registry.cache_dir() / "downloads" / release / treebank.repo
    target = registry.default_data_dir(data_dir) / "ud" / treebank.repo
    files: dict[str, Path] = {}
    fetched, cached, missing = [], [], []
    for split in registry.SPLITS:
        cached_file = cache / treebank.filename(split)
        if cached_file.is_file() and not refresh:
            cached.append(split)
        else:
            url = treebank.url(split, release, base_url)
            try:
                _fetch_checked(url, cached_file, fetch)
            except RemoteFileMissing:
                missing.append(split)
                continue
            fetched.append(split)
        files[split] = target / treebank.filename(split)
        _place(cached_file, files[split])
    if not files:
        raise AlignscopeError(
            f"{treebank.repo} has no {'/'.join(registry.SPLITS)} file at {release} "
            f"(looked for {treebank.url('test', release, base_url)})", "check the name on "
            "https://universaldependencies.org and that the release includes the treebank")
    registry.refresh_index()  # the data directory changed under the registry's index
    return UDDownload(treebank, release, files, tuple(fetched), tuple(cached), tuple(missing))


def _fetch_checked(url: str, destination: Path, fetch: Fetcher) -> None:
    """Download to a temporary file, check it is CoNLL-U, then rename it into place."""
    with atomic_file(destination) as tmp:
        fetch(url, tmp)
        try:
            read_conllu(tmp)
        except DataFormatError as error:
            where = f" at line {error.line}" if error.line else ""
            raise AlignscopeError(f"{url} is not valid CoNLL-U ({error.problem}{where}); "
                                  "nothing was saved") from None


def _place(source: Path, destination: Path) -> None:
    """Hard-link the cached file into the data directory (copy across file systems)."""
    if destination.is_file() and os.path.samefile(source, destination):
        return
    with atomic_file(destination) as tmp:
        tmp.unlink()
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copyfile(source, tmp)


# --- NER ---------------------------------------------------------------------------------


def wikiann_to_iob(rows: Iterable[Mapping[str, Any]], tag_names: Sequence[str]) -> str:
    """Rows of `tokens` and `ner_tags` (class ids) -> `index<TAB>token<TAB>tag` lines, a
    blank line after each sentence."""
    lines: list[str] = []
    for row in rows:
        tokens, tags = row["tokens"], row["ner_tags"]
        if len(tokens) != len(tags):
            raise AlignscopeError(f"WikiANN row with {len(tokens)} tokens but {len(tags)} tags")
        for index, (token, tag) in enumerate(zip(tokens, tags, strict=True)):
            # A tab or line break inside a token would break the column layout.
            token = re.sub(r"[\t\r\n]", " ", token) or "_"
            lines.append(f"{index}\t{token}\t{tag_names[tag]}")
        if tokens:
            lines.append("")
    return "".join(line + "\n" for line in lines)


def download_ner(corpus: str, languages: Sequence[str], *,
                 data_dir: str | Path | None = None,
                 load: Callable[[str], Mapping[str, Any]] | None = None) -> dict[str, Path]:
    """Write each language of a NER corpus into `<data>/<corpus>/<lang>/`; return those dirs.

    `load(lang)` returns the Hugging Face `DatasetDict` (splits train/validation/test);
    by default it calls `datasets.load_dataset`, which needs internet and the `hf` extra.
    """
    if corpus.lower() not in NER_CORPORA:
        raise UnknownNameError("NER corpus", corpus, list(NER_CORPORA))
    if not languages:
        raise ConfigError(f"name the languages to download, e.g. `{corpus} de es`")
    load = load or _load_wikiann
    root = registry.default_data_dir(data_dir) / corpus.lower()
    written: dict[str, Path] = {}
    for language in languages:
        dataset = load(language.lower())
        with atomic_directory(root / language.lower()) as tmp:
            for hub_split, split in _WIKIANN_SPLITS.items():
                if hub_split not in dataset:
                    raise AlignscopeError(f"WikiANN {language} has no {hub_split} split")
                rows = dataset[hub_split]
                names = rows.features["ner_tags"].feature.names
                filename = f"{registry.NER_SPLIT_FILES[split][0]}.conllu"
                (tmp / filename).write_text(wikiann_to_iob(rows, names), encoding="utf-8")
        written[language.lower()] = root / language.lower()
    return written


def _load_wikiann(language: str) -> Mapping[str, Any]:
    try:
        import datasets
    except ImportError:
        raise AlignscopeError("downloading WikiANN needs the `datasets` package: "
                              "pip install 'alignscope[hf]'") from None
    try:
        return datasets.load_dataset(WIKIANN_HF_ID, language)
    except Exception as error:  # the hub raises many types; all mean "could not get it"
        raise AlignscopeError(f"cannot load WikiANN {language!r} from {WIKIANN_HF_ID}: "
                              f"{error}") from None


def ner_datasets(data_dir: str | Path | None = None) -> dict[str, dict[str, Path]]:
    """NER sets found locally, `wikiann:de` -> split -> path, like `registry.ud_treebanks`,
    in the layouts the registry reads (`<data>/<corpus>/<lang>/`, `<data>/ner/<corpus>/<lang>/`)."""
    root = registry.default_data_dir(data_dir)
    corpus_dirs = [root / corpus for corpus in NER_CORPORA]
    if (root / "ner").is_dir():
        corpus_dirs += sorted((root / "ner").iterdir())
    found: dict[str, dict[str, Path]] = {}
    for corpus_dir in filter(Path.is_dir, corpus_dirs):
        for language_dir in sorted(filter(Path.is_dir, corpus_dir.iterdir())):
            splits: dict[str, Path] = {}
            for split, stems in registry.NER_SPLIT_FILES.items():
                paths = [language_dir / f"{stem}.conllu" for stem in stems]
                if existing := [path for path in paths if path.is_file()]:
                    splits[split] = existing[0]  # val.conllu first, as the registry reads it
            if splits:
                found.setdefault(f"{corpus_dir.name}:{language_dir.name}", splits)
    return found
