"""The lab's ground truth: which word of one language translates which word of another.

`alignscope lab generate` writes `lexicon.tsv` beside the treebanks (UTF-8, tab-separated):
a header `lexeme upos feats L1 L2 ...` naming the corpus languages (the source first), then one
row per lexeme and paradigm slot with that word form in every language:

    lexeme  upos  feats        en      xx      yy      zz
    0       DET   _            the     fu      κε      del
    43      NOUN  Number=Plur  tibaks  donean  ζωλεωχ  vafoufi

`lexeme` numbers the abstract word (the same in every language), `feats` is the slot's FEATS
(a function word's own FEATS; `_` when it has none). A form names exactly one lexeme within
a language; two slots of a lexeme may share a form (syncretism: the plural present and the
infinitive of a verb), in every language alike. An anchor is a lexeme whose forms a
vocabulary-shifted language keeps identical to the source's.

    from alignscope.lab import read_lexicon
    lexicon = read_lexicon("lab/data")
    lexicon.translations("en", "xx")["tibaks"]     # {'donean'}
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from alignscope.errors import AlignscopeError, DataFormatError, UnknownNameError
from alignscope.io import utf8_lines

LEXICON_FILE = "lexicon.tsv"
_FIXED = ("lexeme", "upos", "feats")


@dataclass(frozen=True)
class Entry:
    """One lexeme in one paradigm slot, and its form in every language."""

    lexeme: int
    upos: str
    feats: str
    forms: dict[str, str]


@dataclass(frozen=True)
class Lexicon:
    languages: tuple[str, ...]
    entries: tuple[Entry, ...]

    def _check(self, *languages: str) -> None:
        for language in languages:
            if language not in self.languages:
                raise UnknownNameError("lexicon language", language, self.languages)

    def lexemes(self, language: str) -> dict[str, int]:
        """Form -> lexeme of one language."""
        self._check(language)
        return {entry.forms[language]: entry.lexeme for entry in self.entries}

    def translations(self, source: str, target: str) -> dict[str, set[str]]:
        """Each source form -> its target forms (one, except where the target merges slots
        that the source keeps apart)."""
        self._check(source, target)
        found: dict[str, set[str]] = defaultdict(set)
        for entry in self.entries:
            found[entry.forms[source]].add(entry.forms[target])
        return dict(found)

    def anchors(self, source: str, target: str) -> set[str]:
        """Source forms written the same in the target (anchors, and untouched languages)."""
        return {form for form, targets in self.translations(source, target).items()
                if form in targets}

    def upos(self, language: str) -> dict[str, str]:
        """Form -> UPOS of one language."""
        self._check(language)
        return {entry.forms[language]: entry.upos for entry in self.entries}


def read_lexicon(corpus: str | Path) -> Lexicon:
    """The lexicon of a `lab generate` folder (or the path of its lexicon.tsv)."""
    path = Path(corpus)
    path = path / LEXICON_FILE if path.is_dir() else path
    if not path.is_file():
        raise AlignscopeError(f"{path} not found: a lab corpus folder holds {LEXICON_FILE}",
                              "pass the --out folder of `alignscope lab generate`")
    header: list[str] | None = None
    entries = []
    for number, line in utf8_lines(path):
        cells = line.split("\t")
        if header is None:
            if tuple(cells[:3]) != _FIXED or len(cells) < 4:
                raise DataFormatError(path, number, "the header must be `lexeme upos feats` and "
                                      "then one column per language")
            header = cells
            continue
        if not line.strip():
            continue
        if len(cells) != len(header) or not cells[0].isdigit():
            raise DataFormatError(path, number, f"expected {len(header)} tab-separated cells "
                                  "starting with a lexeme number")
        entries.append(Entry(int(cells[0]), cells[1], cells[2],
                             dict(zip(header[3:], cells[3:], strict=True))))
    if header is None:
        raise DataFormatError(path, None, "the file is empty")
    return Lexicon(tuple(header[3:]), tuple(entries))
