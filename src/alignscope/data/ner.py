"""IOB2 NER files: the WikiANN layout and CoNLL-2003 style columns.

Two layouts are recognised from the first line of a file:

* WikiANN (as redistributed by WikiNEuRal): `index<TAB>token<TAB>tag`, the index counting
  words from 0 (or 1) within each sentence; a file whose first line has three columns and
  starts with 0 or 1 is read in this layout;
* CoNLL-2003 style: `token [other columns ...] tag`, tab- or space-separated, with the tag in
  the last column; `-DOCSTART-` lines are document markers and are skipped.

A blank line ends a sentence. Gold tags must be strict IOB2 (`O`, `B-X`, `I-X` continuing a
`B-X` or `I-X`): anything else is an error naming the line, so IOB1 or IOBES files must be
converted first. Writing keeps every column and replaces the tag column.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from alignscope.data.sentence import Sentence
from alignscope.errors import DataFormatError
from alignscope.io import atomic_write_text, utf8_lines

_TAG = re.compile(r"^(?:O|[BI]-\S+)$")
_DOCSTART = "-DOCSTART-"


@dataclass(frozen=True)
class IobSource:
    """The token lines of one sentence as read, kept to write predictions back."""

    rows: tuple[tuple[str, ...], ...]  # all columns of each token line
    lines: tuple[int, ...]  # 1-based line number of each token
    separator: str  # "\t", or " " for whitespace-separated files


@dataclass(frozen=True)
class _Layout:
    columns: int
    first_index: int | None  # WikiANN: the index of the first word (0 or 1); None: no index

    @property
    def token_column(self) -> int:
        return 0 if self.first_index is None else 1


def _split(line: str) -> tuple[tuple[str, ...], str]:
    if "\t" in line:
        return tuple(line.split("\t")), "\t"
    return tuple(line.split()), " "


def _blocks(path: Path) -> Iterator[list[tuple[int, tuple[str, ...], str]]]:
    """Yield the token lines of each sentence as (line number, columns, separator)."""
    block: list[tuple[int, tuple[str, ...], str]] = []
    for number, line in utf8_lines(path):
        columns, separator = _split(line) if line.strip() else ((), "")
        if columns and columns[0] != _DOCSTART:
            block.append((number, columns, separator))
        elif block:
            yield block
            block = []
    if block:
        yield block


def _detect_layout(block: list[tuple[int, tuple[str, ...], str]]) -> _Layout:
    """WikiANN when the first line is `0|1 token tag`; the indices are then checked."""
    first = block[0][1]
    indexed = len(first) == 3 and first[0] in ("0", "1")
    return _Layout(len(first), int(first[0]) if indexed else None)


def _check_row(path: Path, number: int, position: int, row: tuple[str, ...],
               layout: _Layout) -> None:
    if len(row) < 2:
        raise DataFormatError(path, number, f"found {len(row)} column(s), need a token and a tag",
                              "NER lines are `index token tag` (WikiANN) or `token ... tag`")
    if len(row) != layout.columns:
        raise DataFormatError(path, number, f"found {len(row)} columns where the file's first "
                              f"sentence has {layout.columns}")
    if layout.first_index is not None and row[0] != str(layout.first_index + position):
        raise DataFormatError(path, number, f"index {row[0]!r}, expected "
                              f"{layout.first_index + position}",
                              "in the WikiANN layout the first column counts the words of a "
                              "sentence; is a blank line missing between sentences?")
    if not row[layout.token_column]:
        raise DataFormatError(path, number, "empty token")


def _check_iob2(path: str | Path, lines: Sequence[int], tags: Sequence[str]) -> None:
    """Gold tags must be strict IOB2; the error names the first offending line."""
    previous = "O"
    for number, tag in zip(lines, tags, strict=True):
        if not _TAG.match(tag):
            raise DataFormatError(path, number, f"invalid NER tag {tag!r}",
                                  "tags are O, B-TYPE or I-TYPE (IOB2); convert IOBES files")
        if tag.startswith("I-") and previous[2:] != tag[2:]:
            raise DataFormatError(path, number, f"{tag} follows {previous}, which does not open "
                                  f"a {tag[2:]} entity",
                                  "IOB2 starts every entity with B-; convert IOB1 files to IOB2")
        previous = tag


def _to_sentence(path: Path, block: list[tuple[int, tuple[str, ...], str]],
                 layout: _Layout) -> Sentence:
    for position, (number, row, _) in enumerate(block):
        _check_row(path, number, position, row, layout)
    lines = tuple(number for number, _, _ in block)
    rows = tuple(row for _, row, _ in block)
    tags = tuple(row[-1] for row in rows)
    _check_iob2(path, lines, tags)
    return Sentence(words=tuple(row[layout.token_column] for row in rows), ner_tags=tags,
                    path=str(path), line=lines[0],
                    source=IobSource(rows, lines, block[0][2]))


def read_iob(path: str | Path, limit: int | None = None) -> list[Sentence]:
    """Read an IOB2 NER file into sentences of tokens, failing on the first bad line."""
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(path, None, "file not found")
    sentences: list[Sentence] = []
    layout: _Layout | None = None
    for block in _blocks(path):
        layout = layout or _detect_layout(block)
        sentences.append(_to_sentence(path, block, layout))
        if limit is not None and len(sentences) >= limit:
            break
    if not sentences:
        raise DataFormatError(path, None, "file holds no sentence", "is it empty or truncated?")
    return sentences


def write_iob(path: str | Path, sentences: Sequence[Sentence],
              tags: Sequence[Sequence[str]]) -> None:
    """Write sentences in their input layout with `tags` in the tag column (atomically).

    Document markers are not written back; a blank line separates sentences.
    """
    chunks = []
    for sentence, sentence_tags in zip(sentences, tags, strict=True):
        source = sentence.source
        if not isinstance(source, IobSource):
            raise ValueError(f"{sentence.location}: sentence was not read from an IOB file")
        if len(sentence_tags) != len(source.rows):
            raise ValueError(f"{sentence.location}: {len(sentence_tags)} tags for "
                             f"{len(source.rows)} tokens")
        lines = [source.separator.join((*row[:-1], tag))
                 for row, tag in zip(source.rows, sentence_tags, strict=True)]
        chunks.append("\n".join(lines) + "\n\n")
    atomic_write_text(path, "".join(chunks))
