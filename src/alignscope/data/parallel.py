"""Parallel sentences across languages: PUD treebanks matched by sent_id, FLORES+, or
line-aligned text.

A `ParallelCorpus` holds, for each language, the same sentences in the same order. PUD files
are aligned by `# sent_id` and FLORES+ rows by their `id`, never by position: two files need
not list their sentences in the same order. Text files are aligned by line number. Every
analysis reads sentences from here.

A `--parallel` specification is one of:
  ud:pud              every treebank whose code ends in `_pud` (test split), e.g. fr_pud
  ud:pud:dev          the same, another split
  flores:devtest      FLORES+ (Hugging Face `openlanguagedata/flores_plus`, the `hf` extra),
  flores:dev          languages named like fra_Latn; cached after the first download
  corpus/             a folder of line files named by language: eng_Latn.txt, en.txt,
                      eng_Latn.devtest (the code is the name up to its first dot)
  corpus/{lang}.txt   a path template; `{lang}` is replaced by each language code
  en=a.txt,fr=b.txt   explicit files, one per language
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from alignscope.data.conllu import read_conllu
from alignscope.data.registry import ROLE_SPLIT, cache_dir, default_data_dir, parse_ref, ud_treebanks
from alignscope.data.sentence import Sentence
from alignscope.errors import AlignscopeError, ConfigError, DataFormatError, UnknownNameError
from alignscope.io import atomic_write_json, read_json, utf8_lines

FLORES_HF_ID = "openlanguagedata/flores_plus"
FLORES_SPLITS = ("dev", "devtest")
_FLORES_CODE = re.compile(r"^[a-z]{3}_[A-Z][a-z]{3}$")
FloresLoader = Callable[[str, str], Sequence[Mapping[str, Any]]]
"""(language, split) -> rows with `id` and `text`, e.g. a Hugging Face dataset split."""


@dataclass(frozen=True)
class ParallelCorpus:
    """The same sentences in several languages; index i is a translation in every language.

    `texts` is the raw sentence per language (what a model reads); `words` its words, for
    word-level representations; `sources` the file each language came from.
    """

    ids: tuple[str, ...]
    texts: dict[str, tuple[str, ...]]
    words: dict[str, tuple[tuple[str, ...], ...]]
    sources: dict[str, str]

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self.texts)

    def __len__(self) -> int:
        return len(self.ids)

    def select(self, indices: Sequence[int]) -> ParallelCorpus:
        """The sentences at `indices`, in that order, in every language."""
        return replace(
            self,
            ids=tuple(self.ids[i] for i in indices),
            texts={lang: tuple(texts[i] for i in indices) for lang, texts in self.texts.items()},
            words={lang: tuple(words[i] for i in indices) for lang, words in self.words.items()},
        )

    def subsample(self, max_sentences: int | None, seed: int = 0) -> ParallelCorpus:
        """At most `max_sentences` sentences drawn with `seed`, kept in corpus order."""
        if max_sentences is None or max_sentences >= len(self):
            return self
        if max_sentences < 1:
            raise ConfigError(f"--max-sentences must be at least 1, got {max_sentences}")
        chosen = sorted(random.Random(seed).sample(range(len(self)), max_sentences))
        return self.select(chosen)

    def head(self, count: int) -> ParallelCorpus:
        """The first `count` sentences in corpus order (the authors' script's choice)."""
        return self.select(range(min(count, len(self))))

    def fingerprint(self, language: str) -> str:
        """A digest of one language's sentences, for cache keys."""
        digest = hashlib.sha256()
        for sent_id, text, words in zip(self.ids, self.texts[language], self.words[language],
                                        strict=True):
            digest.update("\x1f".join((sent_id, text, *words)).encode("utf-8") + b"\x1e")
        return digest.hexdigest()[:20]


def load_parallel(spec: str, languages: Sequence[str],
                  data_dir: str | Path | None = None) -> ParallelCorpus:
    """Load `languages` (the first one defines the order) from a `--parallel` specification."""
    languages = _unique(languages)
    spec = spec.strip()
    if spec.startswith("ud:"):
        return load_ud_parallel(spec, languages, data_dir)
    if spec.startswith("flores:"):
        return load_flores(spec, languages)
    if "{lang}" in spec:
        return load_text_parallel({lang: spec.replace("{lang}", lang) for lang in languages})
    if "=" in spec:
        files: dict[str, str] = {}
        for item in filter(None, (part.strip() for part in spec.split(","))):
            lang, _, path = item.partition("=")
            if not lang.strip() or not path.strip():
                raise ConfigError(f"bad parallel file {item!r}", "write LANG=PATH, e.g. fr=corpus.fr")
            files[lang.strip()] = path.strip()
        missing = [lang for lang in languages if lang not in files]
        if missing:
            raise UnknownNameError("language in --parallel", missing[0], list(files))
        return load_text_parallel({lang: files[lang] for lang in languages})
    if Path(spec).expanduser().is_dir():
        return load_text_parallel(folder_files(Path(spec).expanduser(), languages))
    raise ConfigError(f"cannot read --parallel {spec!r}: it is not a folder", "use ud:pud, "
                      "flores:devtest, a folder of line files (eng_Latn.txt, ...), a path "
                      "template with {lang} (corpus/{lang}.txt), or LANG=PATH,LANG=PATH")


def folder_files(folder: Path, languages: Sequence[str]) -> dict[str, Path]:
    """The line file of each language in `folder`: the file whose name up to its first dot is
    the language code (eng_Latn.txt, en.txt, eng_Latn.devtest)."""
    by_code: dict[str, list[Path]] = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and not path.name.startswith("."):
            by_code.setdefault(path.name.split(".", 1)[0], []).append(path)
    files: dict[str, Path] = {}
    for lang in languages:
        found = by_code.get(lang, [])
        if not found:
            present = sorted(by_code)
            raise DataFormatError(folder, None, f"no file for language {lang!r} (looked for "
                                  f"{lang}.txt, {lang}.devtest, ...); languages present: "
                                  f"{', '.join(present) if present else 'none'}",
                                  "name one file per language by its code")
        if len(found) > 1:
            raise DataFormatError(folder, None, f"several files for language {lang!r}: "
                                  f"{', '.join(p.name for p in found)}",
                                  "keep one file per language in the folder")
        files[lang] = found[0]
    return files


def load_flores(spec: str, languages: Sequence[str], load: FloresLoader | None = None,
                ) -> ParallelCorpus:
    """`flores:devtest` or `flores:dev`: FLORES+ rows aligned by `id`, each language read from
    the cache (`$ALIGNSCOPE_CACHE/flores_plus/SPLIT/LANG.json`) or loaded with `load` (default:
    the Hugging Face hub) and cached."""
    name, _, split = spec.partition(":")
    if name != "flores" or split not in FLORES_SPLITS:
        raise ConfigError(f"bad parallel reference {spec!r}", "use flores:devtest or flores:dev")
    for lang in languages:
        if not _FLORES_CODE.match(lang):
            raise ConfigError(f"FLORES+ names languages by ISO 639-3 code and script, e.g. "
                              f"fra_Latn, zho_Hans; got {lang!r}")
    rows = {lang: _flores_rows(lang, split, load or _load_flores_hub) for lang in languages}
    first, *others = languages
    order = list(rows[first])
    for lang in others:
        missing = [i for i in order if i not in rows[lang]] or \
            [i for i in rows[lang] if i not in rows[first]]
        if missing:
            raise DataFormatError(_flores_cache(lang, split), None,
                                  f"FLORES+ {lang} and {first} differ in their sentence ids "
                                  f"(first difference: id {missing[0]})",
                                  "delete the cached files to download both again")
    return ParallelCorpus(
        ids=tuple(order),
        texts={lang: tuple(rows[lang][i] for i in order) for lang in languages},
        words={lang: tuple(tuple(rows[lang][i].split()) for i in order) for lang in languages},
        sources={lang: f"{FLORES_HF_ID}:{lang}:{split}" for lang in languages},
    )


def _flores_cache(lang: str, split: str) -> Path:
    return cache_dir() / "flores_plus" / split / f"{lang}.json"


def _flores_rows(lang: str, split: str, load: FloresLoader) -> dict[str, str]:
    """id -> sentence, from the cache or from `load` (then cached)."""
    path = _flores_cache(lang, split)
    if path.is_file():
        return read_json(path)
    rows: dict[str, str] = {}
    for row in load(lang, split):
        text = str(row.get("text") or "").strip()
        if "id" not in row or not text:
            raise AlignscopeError(f"FLORES+ {lang} ({split}) has a row without an id or text: "
                                  f"{dict(row)!r}")
        rows[str(row["id"])] = text
    if not rows:
        raise AlignscopeError(f"FLORES+ {lang} ({split}) is empty")
    atomic_write_json(path, rows)
    return rows


def _load_flores_hub(lang: str, split: str) -> Sequence[Mapping[str, Any]]:
    try:
        import datasets
    except ImportError:
        raise AlignscopeError("FLORES+ is read with the `datasets` package: "
                              "pip install 'alignscope[hf]'") from None
    try:
        return datasets.load_dataset(FLORES_HF_ID, lang, split=split)
    except Exception as error:  # the hub raises many types; all mean "could not get it"
        raise AlignscopeError(
            f"cannot load FLORES+ {lang} ({split}) from {FLORES_HF_ID}: {error}. The dataset is "
            "gated: accept its terms on the hub and log in (`hf auth login`), or give a folder "
            "of line files with --parallel") from None


def load_ud_parallel(spec: str, languages: Sequence[str],
                     data_dir: str | Path | None = None) -> ParallelCorpus:
    """`ud:pud[:split]`: the treebanks `<lang>_pud`, aligned by sent_id."""
    ref = parse_ref(spec)
    name, split = ref.name, ref.split or ROLE_SPLIT["eval"]
    treebanks = ud_treebanks(data_dir)
    available = {code.rsplit("_", 1)[0]: splits for code, splits in treebanks.items()
                 if code.endswith(f"_{name}") and split in splits}
    if not available:
        raise AlignscopeError(f"no {name} treebank with a {split} split under "
                              f"{default_data_dir(data_dir)}", "set --data-dir or ALIGNSCOPE_DATA")
    for lang in languages:
        if lang not in available:
            raise UnknownNameError(f"language for {spec} (no {lang}_{name}-ud-{split}.conllu)",
                                   lang, sorted(available))
    sentences = {lang: read_conllu(available[lang][split]) for lang in languages}
    return align_by_sent_id(sentences)


def align_by_sent_id(sentences: dict[str, list[Sentence]]) -> ParallelCorpus:
    """Match sentences across languages by `sent_id`, in the order of the first language."""
    by_id = {lang: _index_by_id(items) for lang, items in sentences.items()}
    first, *others = by_id
    order = list(by_id[first])
    for lang in others:
        _check_same_ids(first, by_id[first], lang, by_id[lang], sentences)
    return ParallelCorpus(
        ids=tuple(order),
        texts={lang: tuple(_text(by_id[lang][i]) for i in order) for lang in by_id},
        words={lang: tuple(by_id[lang][i].words for i in order) for lang in by_id},
        sources={lang: str(items[0].path) for lang, items in sentences.items()},
    )


def _index_by_id(sentences: list[Sentence]) -> dict[str, Sentence]:
    index: dict[str, Sentence] = {}
    for sentence in sentences:
        if not sentence.sent_id:
            raise DataFormatError(sentence.path or "<corpus>", sentence.line,
                                  "sentence without a `# sent_id` comment",
                                  "parallel treebanks are aligned by sent_id")
        if sentence.sent_id in index:
            raise DataFormatError(sentence.path or "<corpus>", sentence.line,
                                  f"duplicate sent_id {sentence.sent_id!r} (first at line "
                                  f"{index[sentence.sent_id].line})")
        index[sentence.sent_id] = sentence
    return index


def _check_same_ids(first: str, first_ids: dict[str, Sentence], other: str,
                    other_ids: dict[str, Sentence], sentences: dict[str, list[Sentence]]) -> None:
    """Refuse two languages whose id sets differ, naming the first missing id (in file order)."""
    for sentence in sentences[first]:
        if sentence.sent_id not in other_ids:
            raise DataFormatError(
                sentences[other][0].path or other, None,
                f"sent_id {sentence.sent_id!r} (from {sentence.location}) is missing from the "
                f"{other} file; the parallel files must hold the same sentences",
                "use the same release of every treebank")
    for sentence in sentences[other]:
        if sentence.sent_id not in first_ids:
            raise DataFormatError(
                sentence.path or other, sentence.line,
                f"sent_id {sentence.sent_id!r} is missing from the {first} file "
                f"{sentences[first][0].path}; the parallel files must hold the same sentences",
                "use the same release of every treebank")


def _text(sentence: Sentence) -> str:
    return sentence.text if sentence.text else " ".join(sentence.words)


def load_text_parallel(files: dict[str, str | Path]) -> ParallelCorpus:
    """Line-aligned text files, one sentence per line, the same number of lines in each."""
    lines = {lang: _read_lines(Path(path).expanduser()) for lang, path in files.items()}
    first, *others = lines
    for lang in others:
        if len(lines[lang]) != len(lines[first]):
            raise DataFormatError(
                files[lang], None,
                f"{len(lines[lang])} lines but {files[first]} has {len(lines[first])}: "
                "the files are not line-aligned", "give translations one per line, in order")
    count = len(lines[first])
    return ParallelCorpus(
        ids=tuple(str(number) for number in range(1, count + 1)),
        texts={lang: tuple(rows) for lang, rows in lines.items()},
        words={lang: tuple(tuple(row.split()) for row in rows) for lang, rows in lines.items()},
        sources={lang: str(path) for lang, path in files.items()},
    )


def _read_lines(path: Path) -> list[str]:
    if not path.is_file():
        raise DataFormatError(path, None, "file not found", "check the path or the {lang} template")
    rows = [line for _, line in utf8_lines(path)]
    if not rows:
        raise DataFormatError(path, None, "file is empty", "give one sentence per line")
    for number, row in enumerate(rows, start=1):
        if not row.strip():
            raise DataFormatError(path, number, "empty line in a line-aligned file",
                                  "every line must hold a sentence; remove it in all languages")
    return [row.strip() for row in rows]


def _unique(languages: Sequence[str]) -> list[str]:
    seen: list[str] = []
    for lang in languages:
        if lang in seen:
            raise ConfigError(f"language {lang!r} is given twice")
        seen.append(lang)
    if not seen:
        raise ConfigError("give at least one language")
    return seen
