"""Word lists for the lens tasks: concepts with a word (and optionally a cloze text) per language.

Three layouts are read (`read_words`):

wide CSV (alignscope's own; the shipped list `builtin` is one)
    A header row, then one concept per row. Columns: an optional `id`, one column per language
    named by its code (`en`, `fr`, `zh`, `pt_BR`...) holding the word, and optional
    `cloze_<code>` columns holding a cloze text in that language. An empty cell means "no word":
    the concept is left out of tasks that need it. Example:

        id,en,fr,de,cloze_en
        book,book,livre,Buch,"A ""___"" is used to read stories. Answer: ""book""."

the latent-language layout (Wendler et al. 2024, github.com/epfl-dlab/llm-latent-language)
    A folder holding `<code>/clean.csv` per language (their `data/langs/`), read as is. Columns
    used: `word_original` (the English word, which joins the languages), `word_translation`
    (the word in `<code>`) and, when present, `blank_prompt_translation_masked` (the cloze
    text). The English word of each concept is `word_original`; English cloze texts come from
    `en/clean.csv` when the folder has one. A `word_original` repeated in one file keeps its
    first row (the others are counted in `duplicates`).

a lab corpus (`alignscope lab generate`'s folder, or its `lexicon.tsv`)
    The generator's lexicon is the ground truth of the lab languages' translations: every
    content lexeme in its base form (NOUN singular, VERB infinitive, ADJ) is a concept, its
    form in each lab language the word (the id is `lexeme-<n>`). Anchor lexemes, spelt alike in
    every language, are kept; the tasks drop them as collisions. No cloze texts.

A cloze text has the blank (`___`, or `_`) in quotes and ends with the answer in quotes, e.g.
`Un "___" est utilisé pour transporter des objets. Réponse : "sac".` (tasks.py cuts the query
just after the opening quote of its last quoted span).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from alignscope.analysis.llm_settings import BUILTIN_WORDS
from alignscope.errors import DataFormatError
from alignscope.io import read_utf8

_CODE = re.compile(r"^[a-z]{2,3}([_-][A-Za-z0-9]+)*$")
_CLOZE_PREFIX = "cloze_"
_LATENT_FILE = "clean.csv"
_LATENT_COLUMNS = ("word_original", "word_translation")
_LATENT_CLOZE = "blank_prompt_translation_masked"
_LEXICON = "lexicon.tsv"
_LEXICON_COLUMNS = ("lexeme", "upos", "feats")
# The lab's base forms: the slot a dictionary would list.
_BASE_FORMS = {("NOUN", "Number=Sing"), ("VERB", "VerbForm=Inf"), ("ADJ", "_")}

# The names prompts use for languages (translation prompts say `Français: "livre"`); the first
# five are those of Wendler et al.; an unlisted code is named by its code.
LANGUAGE_NAMES: dict[str, str] = {
    "en": "English", "fr": "Français", "de": "Deutsch", "ru": "Русский", "zh": "中文",
    "es": "Español", "it": "Italiano", "pt": "Português", "nl": "Nederlands", "ja": "日本語",
    "ko": "한국어", "pl": "Polski", "fi": "Suomi", "tr": "Türkçe", "id": "Bahasa Indonesia",
    "ar": "العربية", "hi": "हिन्दी", "cs": "Čeština", "sv": "Svenska",
}


@dataclass(frozen=True)
class Concept:
    """One meaning: its word in each language that has one, and cloze texts."""

    id: str
    words: dict[str, str]
    cloze: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class WordList:
    concepts: tuple[Concept, ...]
    source: str
    layout: str  # "wide" | "latent-language" | "lab"
    duplicates: int = 0  # rows left out because their concept was already listed

    @property
    def languages(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for concept in self.concepts:
            seen.update(dict.fromkeys(concept.words))
        return tuple(seen)

    def check_languages(self, languages: tuple[str, ...] | list[str]) -> None:
        missing = [lang for lang in languages if lang not in self.languages]
        if missing:
            raise DataFormatError(self.source, None, f"no word in language {missing[0]!r}; the "
                                  f"list has {', '.join(self.languages)}",
                                  "choose languages the word list covers, or add a column")


def builtin_path() -> Path:
    return Path(str(resources.files("alignscope.analysis.lens") / "words.csv"))


def read_words(spec: str | Path) -> WordList:
    """`builtin`, a wide CSV file, a folder in the latent-language layout, or a lab corpus."""
    path = builtin_path() if str(spec) == BUILTIN_WORDS else Path(spec).expanduser()
    if path.is_dir() and (path / _LEXICON).is_file():
        return read_lab_lexicon(path / _LEXICON)
    if path.is_dir():
        return read_latent_language(path)
    if not path.is_file():
        raise DataFormatError(path, None, "no such word list",
                              "give `builtin`, a CSV file, a folder of <lang>/clean.csv files "
                              "or a lab corpus folder")
    return read_lab_lexicon(path) if path.name == _LEXICON else read_wide(path)


def _rows(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    reader = csv.reader(io.StringIO(read_utf8(path)))
    try:
        header = [cell.strip() for cell in next(reader)]
    except StopIteration:
        raise DataFormatError(path, 1, "empty file", "give a header row, then rows") from None
    except csv.Error as error:
        raise DataFormatError(path, 1, f"not a CSV file ({error})") from None
    rows = []
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                rows.append((reader.line_num, [cell.strip() for cell in row]))
    except csv.Error as error:
        raise DataFormatError(path, reader.line_num, f"not a CSV row ({error})",
                              "quote cells holding commas or quotes, doubling inner quotes") from None
    return header, rows


def read_wide(path: Path) -> WordList:
    header, rows = _rows(path)
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise DataFormatError(path, 1, f"column {repeated[0]!r} appears twice")
    languages = [name for name in header if name != "id" and not name.startswith(_CLOZE_PREFIX)]
    for name in header:
        code = name.removeprefix(_CLOZE_PREFIX)
        if name != "id" and not _CODE.match(code):
            raise DataFormatError(path, 1, f"column {name!r} is not a language code (en, fr, "
                                  "pt_BR), `id` or cloze_<code>", "rename the column")
        if name.startswith(_CLOZE_PREFIX) and code not in languages:
            raise DataFormatError(path, 1, f"column {name!r} has no word column {code!r}")
    if not languages:
        raise DataFormatError(path, 1, "no language column", "name columns by language code")
    concepts: list[Concept] = []
    ids: dict[str, int] = {}
    for line, row in rows:
        if len(row) != len(header):
            raise DataFormatError(path, line, f"{len(row)} cells for {len(header)} columns")
        cells = dict(zip(header, row, strict=True))
        words = {lang: cells[lang] for lang in languages if cells[lang]}
        cloze = {name.removeprefix(_CLOZE_PREFIX): text for name, text in cells.items()
                 if name.startswith(_CLOZE_PREFIX) and text}
        concept_id = cells.get("id") or next(iter(words.values()), "")
        if not concept_id:
            raise DataFormatError(path, line, "a row without any word")
        if concept_id in ids:
            raise DataFormatError(path, line, f"concept {concept_id!r} already on line "
                                  f"{ids[concept_id]}", "give each row its own `id`")
        ids[concept_id] = line
        missing = [lang for lang in cloze if lang not in words]
        if missing:
            raise DataFormatError(path, line, f"a cloze text in {missing[0]!r} but no word")
        concepts.append(Concept(concept_id, words, cloze))
    if not concepts:
        raise DataFormatError(path, None, "no concept (only a header)")
    return WordList(tuple(concepts), str(path), "wide")


def read_latent_language(folder: Path) -> WordList:
    files = sorted(folder.glob(f"*/{_LATENT_FILE}"))
    if not files:
        raise DataFormatError(folder, None, f"no <lang>/{_LATENT_FILE} in this folder",
                              "point at the latent-language data/langs folder, or give a CSV")
    words: dict[str, dict[str, str]] = {}
    cloze: dict[str, dict[str, str]] = {}
    duplicates = 0
    for path in files:
        lang = path.parent.name
        header, rows = _rows(path)
        missing = [name for name in _LATENT_COLUMNS if name not in header]
        if missing:
            raise DataFormatError(path, 1, f"no {missing[0]!r} column (columns: "
                                  f"{', '.join(header)})", "use the latent-language layout")
        seen: set[str] = set()
        for line, row in rows:
            if len(row) != len(header):
                raise DataFormatError(path, line, f"{len(row)} cells for {len(header)} columns")
            cells = dict(zip(header, row, strict=True))
            english, word = cells["word_original"], cells["word_translation"]
            if not english or not word:
                continue
            if english in seen:
                duplicates += 1
                continue
            seen.add(english)
            entry = words.setdefault(english, {"en": english})
            entry[lang] = word
            if cells.get(_LATENT_CLOZE):
                cloze.setdefault(english, {})[lang] = cells[_LATENT_CLOZE]
    concepts = tuple(Concept(english, entry, cloze.get(english, {}))
                     for english, entry in words.items())
    return WordList(concepts, str(folder), "latent-language", duplicates)


def read_lab_lexicon(path: Path) -> WordList:
    """The lab generator's lexicon.tsv: one concept per content lexeme, in its base form."""
    lines = read_utf8(path).splitlines()
    header = lines[0].split("\t") if lines else []
    if tuple(header[:3]) != _LEXICON_COLUMNS or len(header) < 4:
        raise DataFormatError(path, 1, "not a lab lexicon (expected the columns lexeme, upos, "
                              "feats, then one per language)", "give the folder written by "
                              "`alignscope lab generate`")
    languages = header[3:]
    concepts = []
    for number, line in enumerate(lines[1:], start=2):
        cells = line.split("\t")
        if len(cells) != len(header):
            raise DataFormatError(path, number, f"{len(cells)} cells for {len(header)} columns")
        if (cells[1], cells[2]) in _BASE_FORMS:
            concepts.append(Concept(f"lexeme-{cells[0]}", dict(zip(languages, cells[3:],
                                                                   strict=True))))
    if not concepts:
        raise DataFormatError(path, None, "no noun, verb or adjective in the lexicon")
    return WordList(tuple(concepts), str(path), "lab")
