"""CoNLL-U reader and writer on top of the `conllu` library, with line-precise validation.

Units are syntactic words (integer IDs). Multiword-token lines (`3-4  du`) give the surface
form only and are kept for write-back; empty nodes (`5.1`) belong to enhanced graphs and are
skipped, as the UD spec prescribes for the basic tree.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import conllu

from alignscope.data.sentence import UPOS_TAGS, Sentence
from alignscope.errors import DataFormatError
from alignscope.io import utf8_lines

_INT_ID = re.compile(r"^[1-9][0-9]*$")
_RANGE_ID = re.compile(r"^([1-9][0-9]*)-([1-9][0-9]*)$")
_EMPTY_ID = re.compile(r"^[0-9]+\.[1-9][0-9]*$")
_UPOS = frozenset(UPOS_TAGS)
# FEATS, DEPS and MISC are kept as their raw text: nothing reads them as structures, they are
# written back unchanged, and parsing them took 40 % of reading a treebank.
_RAW_COLUMNS = {name: lambda columns, index: columns[index] for name in ("feats", "deps", "misc")}


def _blocks(path: Path) -> Iterator[tuple[int, list[tuple[int, str]]]]:
    """Yield (first line number, [(line number, line)]) for each blank-line separated block."""
    block: list[tuple[int, str]] = []
    for number, line in utf8_lines(path):  # UTF-8 checked, byte-order mark tolerated
        if line.strip():
            block.append((number, line))
        elif block:
            yield block[0][0], block
            block = []
    if block:
        yield block[0][0], block


def _validate_block(path: Path, block: list[tuple[int, str]]) -> None:
    expected = 1
    range_end = 0  # last word covered by a multiword token
    last_empty = (0, 0)  # (word, index) of the last empty node
    n_words = sum(1 for _, line in block if not line.startswith("#")
                  and _INT_ID.match(line.split("\t", 1)[0]))
    for number, line in block:
        if line.startswith("#"):
            continue
        columns = line.split("\t")
        if len(columns) != 10:
            raise DataFormatError(
                path, number, f"expected 10 tab-separated columns, found {len(columns)}",
                "CoNLL-U token lines are ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL DEPS MISC; "
                "check for spaces used instead of tabs",
            )
        token_id, form, _, upos, _, _, head, deprel = columns[:8]
        if match := _RANGE_ID.match(token_id):
            range_end = _check_range(path, number, token_id, match, expected, range_end, n_words)
            continue
        if _EMPTY_ID.match(token_id):
            last_empty = _check_empty(path, number, columns, expected - 1, last_empty)
            continue
        if not _INT_ID.match(token_id):
            raise DataFormatError(path, number, f"invalid ID {token_id!r}",
                                  "IDs are integers, ranges like 3-4, or empty nodes like 5.1")
        if int(token_id) != expected:
            raise DataFormatError(path, number, f"word ID {token_id} out of sequence, "
                                  f"expected {expected}", "word IDs must run 1, 2, 3, ...")
        expected += 1
        if not form:
            raise DataFormatError(path, number, "empty FORM column")
        if upos != "_" and upos not in _UPOS:
            raise DataFormatError(path, number, f"unknown UPOS tag {upos!r}",
                                  f"UD v2 tags are {', '.join(UPOS_TAGS)}")
        if head != "_":
            if not re.fullmatch(r"[0-9]+", head):
                raise DataFormatError(path, number, f"HEAD {head!r} is not an integer",
                                      "HEAD is the ID of the governing word, 0 for the root")
            if int(head) > n_words:
                raise DataFormatError(path, number, f"HEAD {head} points outside the sentence "
                                      f"of {n_words} words")
            if int(head) == int(token_id):
                raise DataFormatError(path, number, f"word {token_id} is its own HEAD")
        if head != "_" and deprel == "_":
            raise DataFormatError(path, number, "DEPREL missing for a word with a HEAD")


def _check_range(path: Path, number: int, token_id: str, match: re.Match[str], expected: int,
                 previous_end: int, n_words: int) -> int:
    """A multiword token `a-b` stands right before word a, spans words of this sentence and
    overlaps no other one; returns b."""
    start, end = int(match[1]), int(match[2])
    if start >= end:
        raise DataFormatError(path, number, f"multiword token range {token_id} is empty or "
                              "reversed", "a range a-b covers words a to b with a < b")
    if start <= previous_end:
        raise DataFormatError(path, number, f"multiword token range {token_id} overlaps the "
                              f"previous one (which ends at word {previous_end})",
                              "each word belongs to at most one multiword token")
    if start != expected:
        raise DataFormatError(path, number, f"multiword token range {token_id} must come right "
                              f"before word {start}, but the next word is {expected}",
                              "put the range line just above its first word")
    if end > n_words:
        raise DataFormatError(path, number, f"multiword token range {token_id} goes beyond the "
                              f"sentence's {n_words} words", "fix the range's last word")
    return end


def _check_empty(path: Path, number: int, columns: list[str], word: int,
                 previous: tuple[int, int]) -> tuple[int, int]:
    """An empty node `N.M` follows word N (0: sentence start), M counting 1, 2, ... per N; it
    has no basic-tree HEAD or DEPREL."""
    token_id = columns[0]
    node, index = (int(part) for part in token_id.split("."))
    wanted = previous[1] + 1 if previous[0] == word else 1
    if node != word or index != wanted:
        raise DataFormatError(path, number, f"empty node {token_id} out of sequence, expected "
                              f"{word}.{wanted}", "empty node N.M follows word N, M = 1, 2, ...")
    if columns[6] != "_" or columns[7] != "_":
        raise DataFormatError(path, number, f"empty node {token_id} has a HEAD or DEPREL",
                              "empty nodes belong to the enhanced graph: put `_` in HEAD and "
                              "DEPREL, their relations in DEPS")
    return node, index


def _check_tree(path: Path, line: int, heads: tuple[int, ...]) -> None:
    """Every word must reach the root (0) without a cycle."""
    for start in range(1, len(heads) + 1):
        seen = set()
        node = start
        while node != 0:
            if node in seen:
                raise DataFormatError(path, line, f"the gold tree has a cycle through word {node}",
                                      "fix the HEAD column of this sentence")
            seen.add(node)
            node = heads[node - 1]


def _to_sentence(path: Path, line: int, tokens: conllu.TokenList) -> Sentence:
    words = [t for t in tokens if isinstance(t["id"], int)]
    if not words:
        raise DataFormatError(path, line, "sentence without any word line")
    upos = tuple(t["upos"] for t in words)
    heads = tuple(t["head"] for t in words)
    deprels = tuple(t["deprel"] for t in words)
    has_upos = all(tag not in (None, "_") for tag in upos)
    has_heads = all(head is not None for head in heads)
    if has_heads:
        _check_tree(path, line, heads)  # type: ignore[arg-type]
    return Sentence(
        words=tuple(t["form"] for t in words),
        upos=upos if has_upos else None,
        heads=heads if has_heads else None,  # type: ignore[arg-type]
        deprels=deprels if has_heads else None,
        sent_id=tokens.metadata.get("sent_id"),
        text=tokens.metadata.get("text"),
        path=str(path),
        line=line,
        source=tokens,
    )


def iter_conllu(path: str | Path) -> Iterator[Sentence]:
    path = Path(path)
    for line, block in _blocks(path):
        _validate_block(path, block)
        text = "\n".join(content for _, content in block) + "\n\n"
        try:
            parsed = conllu.parse(text, field_parsers=_RAW_COLUMNS)
        except conllu.exceptions.ParseException as error:  # pragma: no cover - validated above
            raise DataFormatError(path, line, f"unparsable sentence: {error}") from error
        yield _to_sentence(path, line, parsed[0])


def read_conllu(path: str | Path, limit: int | None = None) -> list[Sentence]:
    """Read a CoNLL-U file into sentences of syntactic words, failing on the first bad line."""
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(path, None, "file not found")
    sentences: list[Sentence] = []
    for sentence in iter_conllu(path):
        sentences.append(sentence)
        if limit is not None and len(sentences) >= limit:
            break
    if not sentences:
        raise DataFormatError(path, None, "file holds no sentence", "is it empty or truncated?")
    return sentences


def write_conllu(path: str | Path, sentences: list[Sentence],
                 upos: list[list[str]] | None = None,
                 heads: list[list[int]] | None = None,
                 deprels: list[list[str]] | None = None) -> None:
    """Write sentences back as CoNLL-U, replacing predicted columns and keeping all others."""
    from alignscope.io import atomic_write_text

    chunks = []
    for index, sentence in enumerate(sentences):
        if sentence.source is None:
            raise ValueError(f"{sentence.location}: sentence has no CoNLL-U source to write back")
        # TokenList.copy() shares the token dicts: copy them, or predictions overwrite the gold.
        tokens = conllu.TokenList([conllu.Token(token) for token in sentence.source],
                                  metadata=dict(sentence.source.metadata))
        words = [t for t in tokens if isinstance(t["id"], int)]
        for position, token in enumerate(words):
            if upos is not None:
                token["upos"] = upos[index][position]
            if heads is not None:
                token["head"] = heads[index][position]
            if deprels is not None:
                token["deprel"] = deprels[index][position]
        chunks.append(tokens.serialize())
    atomic_write_text(path, "".join(chunks))
